/// One compiler message from a build's output, as the dashboard and `status` show it.
public struct BuildDiagnostic: Sendable, Equatable, Codable {
    public enum Severity: String, Sendable, Codable { case error, warning }
    /// The file, relative to the repository when it is inside it.
    public var file: String
    public var line: Int
    public var column: Int
    public var severity: Severity
    public var message: String

    public init(file: String, line: Int, column: Int, severity: Severity, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.severity = severity
        self.message = message
    }

    /// `file:line:col: error: message`.
    public var description: String { "\(file):\(line):\(column): \(severity.rawValue): \(message)" }
}

/// Reads `swift build` output: `path:line:col: error|warning: message` lines, each once (Swift 6
/// prints every diagnostic twice, and a file's errors once per build job that reads it), paths
/// made relative to `repositoryRoot`, errors before warnings, in order of appearance.
public enum BuildDiagnostics {
    public static func parse(_ output: String, repositoryRoot: String) -> [BuildDiagnostic] {
        var seen = Set<String>()
        var errors: [BuildDiagnostic] = []
        var warnings: [BuildDiagnostic] = []
        let prefix = repositoryRoot.hasSuffix("/") ? repositoryRoot : repositoryRoot + "/"
        for line in output.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let diagnostic = parseLine(line, prefix: prefix), seen.insert(diagnostic.description).inserted else { continue }
            if diagnostic.severity == .error { errors.append(diagnostic) } else { warnings.append(diagnostic) }
        }
        return errors + warnings
    }

    static func parseLine(_ line: Substring, prefix: String) -> BuildDiagnostic? {
        for severity in [BuildDiagnostic.Severity.error, .warning] {
            let marker = ": \(severity.rawValue): "
            guard let markerRange = line.range(of: marker) else { continue }
            let location = line[..<markerRange.lowerBound].split(separator: ":", omittingEmptySubsequences: false)
            // path:line:col (the path itself may hold no colon; anything else is not a location).
            guard location.count == 3, let lineNumber = Int(location[1]), let column = Int(location[2]), !location[0].isEmpty else { continue }
            var file = String(location[0])
            if file.hasPrefix(prefix) { file.removeFirst(prefix.count) }
            let message = String(line[markerRange.upperBound...])
            return BuildDiagnostic(file: file, line: lineNumber, column: column, severity: severity, message: message)
        }
        return nil
    }
}
