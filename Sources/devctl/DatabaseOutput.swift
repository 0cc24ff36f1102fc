import Database

/// Renders database reports as JSON or as a table.
enum DatabaseOutput {
    enum Verb { case initialize, migrate, status, reset }

    static func show(server report: ServerReport, json: Bool) throws {
        if json { return try Console.printJSON(report) }
        if let note = report.note { Console.note(note) }
        print(serverLine(report))
    }

    static func show(_ report: DatabasesReport, json: Bool, verb: Verb) throws {
        if json { return try Console.printJSON(report) }
        if let note = report.server.note { Console.note(note) }
        print(serverLine(report.server))
        let rows = report.databases.map { database -> [String] in
            let exists: String
            switch database.exists {
            case true?: exists = database.created ? "created" : "yes"
            case false?: exists = "no"
            case nil: exists = "?"
            }
            var state = database.isUpToDate ? "up to date" : "pending"
            if !database.drifted.isEmpty { state = "drifted: " + database.drifted.joined(separator: ", ") }
            else if !database.missing.isEmpty { state = "missing files: " + database.missing.joined(separator: ", ") }
            else if database.exists == nil { state = "server stopped" }
            else if !database.pending.isEmpty { state = "pending: " + database.pending.joined(separator: ", ") }
            return [database.service, database.database, exists, String(database.applied),
                    database.newlyApplied.isEmpty ? "-" : String(database.newlyApplied.count), state]
        }
        print(Console.table(["SERVICE", "DATABASE", "EXISTS", "APPLIED", "NEW", "STATE"], rows) { column, cell in
            guard column == 5 else { return nil }
            return cell == "up to date" ? .green : (cell.hasPrefix("drifted") || cell.hasPrefix("missing") ? .red : .yellow)
        })
        switch verb {
        case .initialize, .migrate, .reset:
            if !report.changed { print("nothing to do: every database exists and is up to date") }
        case .status:
            break
        }
    }

    private static func serverLine(_ server: ServerReport) -> String {
        var line = "postgres (\(server.mode)) \(server.address): \(server.state)"
        if let pid = server.pid { line += " (pid \(pid))" }
        let actions = [
            server.initialized ? "initialised" : nil,
            server.started ? "started" : nil,
            server.stopped ? "stopped" : nil,
        ].compactMap { $0 }
        if !actions.isEmpty { line += "; just " + actions.joined(separator: " and ") }
        if let data = server.dataDirectory { line += "\n  data: \(data)" }
        return line
    }
}
