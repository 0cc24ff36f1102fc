import Foundation

/// The services' JSON log lines as a person reads them on a terminal:
/// `12:04:05.123 INFO  request method=POST route=/greeter.v1.GreeterService/Greet status=200`.
/// Files, containers and `--json` keep the JSON; only the foreground console renders this.
public enum HumanLogFormat {
    /// Keys shown elsewhere in the line (time, level, message) or by the console's `name |`.
    static let shownElsewhere: Set<String> = ["ts", "level", "msg", "logger", "service"]

    /// `line` rendered, or `line` itself when it is not one of the services' JSON log lines.
    public static func render(_ line: String) -> String {
        guard line.first == "{", let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
              let message = object["msg"] as? String else { return line }
        var parts: [String] = []
        if let timestamp = object["ts"] as? String, let time = timeOfDay(timestamp) { parts.append(time) }
        let level = (object["level"] as? String ?? "info").uppercased()
        parts.append(level.padding(toLength: max(5, level.count), withPad: " ", startingAt: 0))
        parts.append(message)
        for key in object.keys.sorted() where !shownElsewhere.contains(key) {
            parts.append("\(key)=\(quoted("\(object[key] ?? "")"))")
        }
        return parts.joined(separator: " ")
    }

    /// `HH:MM:SS.mmm` of an ISO 8601 timestamp (its own offset kept: the services write UTC).
    static func timeOfDay(_ timestamp: String) -> String? {
        guard let t = timestamp.firstIndex(of: "T") else { return nil }
        let rest = timestamp[timestamp.index(after: t)...]
        let end = rest.firstIndex { $0 == "Z" || $0 == "+" || $0 == "-" } ?? rest.endIndex
        return String(rest[..<end].prefix(12))
    }

    /// A value as `key=value`, quoted when it has spaces, quotes or `=` in it, or is empty.
    static func quoted(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
