import YAMLSupport

extension StackConfig {
    /// Names devctl keeps for itself: a service may not take them.
    public static let reservedNames: Set<String> = ["devctl", "postgres", "edge", "haproxy", "all"]

    /// Every semantic problem: bad names and ports, duplicate ports and databases, unknown
    /// dependencies and dependency cycles. Empty when the stack is sound.
    public func validate() -> [ConfigDiagnostic] {
        var problems: [ConfigDiagnostic] = []
        func problem(_ keyPath: String, _ message: String) {
            problems.append(ConfigDiagnostic(file: source.file, line: source.line(of: keyPath), keyPath: keyPath, message: message))
        }
        func location(_ keyPath: String) -> String {
            source.line(of: keyPath).map { "\(keyPath) (\(source.file):\($0))" } ?? keyPath
        }

        // Ports: each one once across PostgreSQL, the edge and every service.
        var portOwners: [Int: String] = [:]
        func claim(port: Int, by keyPath: String) {
            guard (1...65535).contains(port) else {
                problem(keyPath, "port \(port) is out of range (1-65535)")
                return
            }
            if let owner = portOwners[port] {
                problem(keyPath, "port \(port) is already used by \(location(owner))")
            } else {
                portOwners[port] = keyPath
            }
        }
        claim(port: postgres.port, by: "postgres.port")
        if postgres.host.wholeMatch(of: /\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/) == nil {
            problem("postgres.host", "expected an IPv4 address such as 127.0.0.1 (the embedded cluster listens on it), got \"\(postgres.host)\"")
        }
        claim(port: edge.port, by: "edge.port")
        if traces.port != 0 { claim(port: traces.port, by: "traces.port") }
        if dashboard.port != 0 { claim(port: dashboard.port, by: "dashboard.port") }
        if !Self.isValidRoleName(postgres.user) {
            problem("postgres.user", "\"\(postgres.user)\" is not a valid role name (letters, digits, _; starting with a letter or _)")
        }

        var databaseOwners: [String: String] = [:]
        var exposedPaths: [String: String] = [:]
        for service in services {
            let base = "services.\(service.name)"
            if !Self.isValidServiceName(service.name) {
                problem(base, "\"\(service.name)\" is not a valid service name (kebab-case: [a-z][a-z0-9-]{1,30})")
            } else if Self.reservedNames.contains(service.name) {
                problem(base, "\"\(service.name)\" is reserved by devctl; choose another name")
            }
            claim(port: service.port, by: "\(base).port")
            if let database = service.database {
                if !Self.isValidDatabaseName(database) {
                    problem("\(base).database", "\"\(database)\" is not a valid database name (lower-case letters, digits, _; at most 63)")
                } else if let owner = databaseOwners[database] {
                    problem("\(base).database", "database \(database) is already used by \(location(owner))")
                } else {
                    databaseOwners[database] = "\(base).database"
                }
            }
            for (index, dependency) in service.dependsOn.enumerated() where self.service(named: dependency) == nil {
                let known = services.map(\.name).joined(separator: ", ")
                problem("\(base).depends_on[\(index)]", "unknown service \"\(dependency)\" (services: \(known))")
            }
            for path in [service.health.live, service.health.ready] where !path.hasPrefix("/") {
                problem("\(base).health", "health path \"\(path)\" must start with /")
            }
            if let expose = service.expose {
                if !expose.pathPrefix.hasPrefix("/") {
                    problem("\(base).expose.path", "path \"\(expose.pathPrefix)\" must start with /")
                } else if let owner = exposedPaths[expose.pathPrefix] {
                    problem("\(base).expose.path", "path \(expose.pathPrefix) is already routed to \(owner)")
                } else {
                    exposedPaths[expose.pathPrefix] = service.name
                }
            }
        }
        if let cycle = dependencyCycle() {
            let first = cycle[0]
            problem("services.\(first).depends_on", "dependency cycle: \(cycle.joined(separator: " → "))")
        }
        return problems
    }

    /// The first dependency cycle found, as a closed path (`a → b → a`), or `nil`.
    func dependencyCycle() -> [String]? {
        enum Mark { case visiting, done }
        var marks: [String: Mark] = [:]
        var stack: [String] = []
        func visit(_ name: String) -> [String]? {
            if marks[name] == .done { return nil }
            if marks[name] == .visiting, let start = stack.firstIndex(of: name) {
                return Array(stack[start...]) + [name]
            }
            marks[name] = .visiting
            stack.append(name)
            for dependency in service(named: name)?.dependsOn ?? [] {
                if let cycle = visit(dependency) { return cycle }
            }
            stack.removeLast()
            marks[name] = .done
            return nil
        }
        for service in services {
            if let cycle = visit(service.name) { return cycle }
        }
        return nil
    }

    static func isValidServiceName(_ name: String) -> Bool {
        name.wholeMatch(of: /[a-z][a-z0-9-]{1,30}/) != nil && !name.hasSuffix("-") && !name.contains("--")
    }

    static func isValidDatabaseName(_ name: String) -> Bool {
        name.wholeMatch(of: /[a-z_][a-z0-9_]{0,62}/) != nil
    }

    static func isValidRoleName(_ name: String) -> Bool {
        name.wholeMatch(of: /[A-Za-z_][A-Za-z0-9_]{0,62}/) != nil
    }
}
