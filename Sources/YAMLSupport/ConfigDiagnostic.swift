import DevctlCore
import Yams

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

/// A configuration file (devctl.yaml, buf.gen.yaml …) could not be read, parsed or validated;
/// lists every problem found.
public struct ConfigFileError: UserFacingError, Equatable {
    public var diagnostics: [ConfigDiagnostic]

    public init(_ diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = diagnostics
    }

    public var message: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }

    public var hint: String? {
        "fix \(diagnostics.first?.file ?? "the file") and run the command again"
    }

    /// Bad configuration is bad input, like a bad flag.
    public var exitCode: Int32 { 2 }
}

extension ConfigFileError {
    /// Parses YAML text into a node tree, turning syntax errors into a located diagnostic.
    public static func compose(yaml: String, file: String) throws -> Node {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                throw ConfigFileError([ConfigDiagnostic(file: file, line: mark.line, keyPath: "", message: "invalid YAML: \(problem)")])
            case .duplicatedKeysInMapping(let duplicates, let context):
                // Yams refuses these while composing; say where, like every other problem.
                let names = duplicates.map { "'\($0)'" }.joined(separator: ", ")
                let line = Self.lineOfSecondOccurrence(of: duplicates.first ?? "", in: yaml) ?? context.mark.line
                throw ConfigFileError([ConfigDiagnostic(file: file, line: line, keyPath: "", message: "duplicate key \(names) in one mapping")])
            default:
                throw ConfigFileError([ConfigDiagnostic(file: file, line: nil, keyPath: "", message: "invalid YAML: \(error)")])
            }
        }
        guard let root else {
            throw ConfigFileError([ConfigDiagnostic(file: file, line: nil, keyPath: "", message: "the file is empty")])
        }
        return root
    }

    /// The line where `key:` appears a second time at the same indentation, if it can be found.
    static func lineOfSecondOccurrence(of key: String, in yaml: String) -> Int? {
        var seen: [Int: Int] = [:] // indentation → occurrences
        for (index, line) in yaml.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let indentation = line.prefix { $0 == " " }.count
            let rest = line.dropFirst(indentation)
            guard rest.hasPrefix(key + ":") else { continue }
            seen[indentation, default: 0] += 1
            if seen[indentation] == 2 { return index + 1 }
        }
        return nil
    }
}
