import DevctlCore

/// One problem found in `devctl.yaml`, located as `file:line: key.path: message`.
public struct ConfigDiagnostic: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    /// Dotted path of the offending key, e.g. `services.greeter.port`.
    public var keyPath: String
    public var message: String

    public init(file: String, line: Int?, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return keyPath.isEmpty ? "\(location): \(message)" : "\(location): \(keyPath): \(message)"
    }
}

/// `devctl.yaml` could not be read, parsed or validated; lists every problem found.
public struct StackConfigError: UserFacingError, Equatable {
    public var diagnostics: [ConfigDiagnostic]

    public init(_ diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = diagnostics
    }

    public var message: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }

    public var hint: String? {
        "fix \(diagnostics.first?.file ?? "devctl.yaml") and run the command again"
    }

    /// Bad configuration is bad input, like a bad flag.
    public var exitCode: Int32 { 2 }
}
