import Foundation
import Stack

/// How stack state is shown: a table for people, ``StackStatusView`` for `--json`.
enum StackOutput {
    static func table(_ state: StackState) -> String {
        let rows = state.processes.map { record -> [String] in
            [record.name, record.state.rawValue, record.pid.map(String.init) ?? "-", String(record.port),
             uptime(record), String(record.restarts), record.readyAfterMs.map { "\($0) ms" } ?? "-", record.url]
        }
        var text = Console.table(["NAME", "STATE", "PID", "PORT", "UPTIME", "RESTARTS", "READY IN", "URL"], rows) { column, cell in
            guard column == 1 else { return nil }
            switch cell {
            case "ready": return .green
            case "starting", "restarting", "pending": return .yellow
            default: return .red
            }
        }
        if let postgres = state.postgres {
            text += "\npostgres \(postgres.address) (\(postgres.embedded ? "embedded" : "DATABASE_URL"))"
        }
        if let build = state.build {
            switch build.phase {
            case .building: text += "\nbuild    running (up --watch)"
            case .succeeded: text += "\nbuild    ok in \(build.durationMs ?? 0) ms" + (build.restarted.isEmpty ? "" : "; restarted \(build.restarted.joined(separator: ", "))")
            case .failed:
                text += "\nbuild    FAILED — the services run the last good build:"
                for error in build.errors { text += "\n  \(error)" }
            }
        }
        if let traces = state.traces {
            if let receiver = traces.receiver {
                text += "\ntraces   \(receiver.replacingOccurrences(of: "http://", with: "")) (devctl traces)"
            } else if let external = traces.externalEndpoint {
                text += external.isEmpty ? "\ntraces   off (OTEL_EXPORTER_OTLP_ENDPOINT is empty)" : "\ntraces   sent to \(external)"
            }
        }
        if let dashboard = state.dashboard {
            text += "\ndashboard \(dashboard)"
        }
        return text
    }

    static func uptime(_ record: ProcessRecord) -> String {
        guard record.pid != nil, let started = record.startedAt else { return "-" }
        let seconds = Int(Date().timeIntervalSince(started))
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m\(seconds % 60)s" }
        return "\(seconds / 3600)h\(seconds / 60 % 60)m"
    }
}

/// `status --json` (and `up -d --json`): the state plus whether a supervisor runs.
struct StackStatusView: Encodable {
    var running: Bool
    var ready: Bool
    var phase: String
    var supervisorPID: Int32?
    var postgres: StackState.PostgresRecord?
    var traces: StackState.TracesRecord?
    /// `up --watch`'s last build.
    var build: StackState.BuildRecord?
    /// `up --watch`: whether changes are acted on.
    var watch: StackState.WatchRecord?
    /// The dashboard's address while the stack runs.
    var dashboard: String?
    var processes: [ProcessRecord]
    var failure: String?

    init(state: StackState, running: Bool) {
        self.running = running
        ready = running && state.phase == .running && state.processes.allSatisfy { $0.state == .ready }
        phase = state.phase.rawValue
        supervisorPID = running ? state.supervisorPID : nil
        postgres = state.postgres
        traces = state.traces
        build = state.build
        watch = running ? state.watch : nil
        dashboard = running ? state.dashboard : nil
        processes = state.processes
        failure = state.failure
    }
}
