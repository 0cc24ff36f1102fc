#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DevctlCore
import Foundation
import Logging

/// How devctl talks to the terminal: JSON for machines, tables for people, colour only on a TTY.
enum Console {
    /// Colour and progress only when stdout is a terminal and NO_COLOR is unset.
    static let isInteractive: Bool = {
        isatty(STDOUT_FILENO) == 1 && (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
    }()

    /// A line about something slow in progress, on stderr (stdout stays the command's output).
    static let progress: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data("devctl: \(line)\n".utf8))
    }

    /// stdout is a terminal (a person reads it): logs are rendered for reading, not as JSON.
    static let isTerminal: Bool = isatty(STDOUT_FILENO) == 1

    /// Logs go to stderr, one line per event; `DEVCTL_LOG_LEVEL` or `--verbose` raise the level.
    static func bootstrapLogging(verbose: Bool) {
        let configured = ProcessInfo.processInfo.environment["DEVCTL_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        let level = configured ?? (verbose ? .info : .warning)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// Pretty, key-sorted JSON on stdout.
    static func printJSON<Value: Encodable>(_ value: Value) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        print(String(decoding: data, as: UTF8.self))
    }

    /// An error for the user: on stderr always, and as `{"error": …}` on stdout with --json.
    static func report(_ error: any UserFacingError, json: Bool) {
        if json {
            struct Payload: Encodable {
                struct Body: Encodable { var message: String; var hint: String?; var exitCode: Int32 }
                var error: Body
            }
            try? printJSON(Payload(error: .init(message: error.message, hint: error.hint, exitCode: error.exitCode)))
        }
        var text = paint("error: ", .red) + error.message + "\n"
        if let hint = error.hint { text += paint("hint: ", .yellow) + hint + "\n" }
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// A note for the user on stderr (never mixed into JSON on stdout).
    static func note(_ text: String) {
        FileHandle.standardError.write(Data((paint("note: ", .cyan) + text + "\n").utf8))
    }

    enum Colour: String {
        case red = "31", green = "32", yellow = "33", cyan = "36", dim = "2", bold = "1"
    }

    static func paint(_ text: String, _ colour: Colour) -> String {
        isInteractive ? "\u{1B}[\(colour.rawValue)m\(text)\u{1B}[0m" : text
    }

    /// A left-aligned table with a header row; `colour` picks a colour per cell (TTY only).
    static func table(_ header: [String], _ rows: [[String]], colour: (Int, String) -> Colour? = { _, _ in nil }) -> String {
        let widths = header.indices.map { column in
            ([header[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        func line(_ cells: [String], isHeader: Bool) -> String {
            cells.enumerated().map { column, cell in
                let padded = column == cells.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                if isHeader { return paint(padded, .bold) }
                return colour(column, cell).map { paint(padded, $0) } ?? padded
            }.joined(separator: "  ")
        }
        return ([line(header, isHeader: true)] + rows.map { line($0, isHeader: false) }).joined(separator: "\n")
    }
}
