import Foundation
import Testing

/// Golden files: output compared byte for byte with a committed reference.
///
/// A difference fails the test. The reference is rewritten only when asked for explicitly,
/// by naming its group (`UPDATE_GOLDEN=edge swift test …`, or `UPDATE_GOLDEN=all`), and every
/// rewrite is reported; a bare `UPDATE_GOLDEN=1` left in a shell does not wave differences through.
public enum Golden {
    /// Checks `actual` against the file at `path`; `group` names what `UPDATE_GOLDEN` must say.
    public static func check(_ actual: String, against path: String, group: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let request = ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] ?? ""
        let expected = try? String(contentsOfFile: path, encoding: .utf8)
        if actual == expected { return }
        if request == group || request == "all" {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try actual.write(toFile: path, atomically: true, encoding: .utf8)
            print("golden: rewrote \(path) (UPDATE_GOLDEN=\(request)); review it with git diff")
            return
        }
        let hint = request.isEmpty ? "" : " (UPDATE_GOLDEN=\(request) does not name this group)"
        Issue.record("\(path) differs from the output\(hint); if the change is intended, run with UPDATE_GOLDEN=\(group) and review the diff\n\(firstDifference(actual, expected ?? ""))",
                     sourceLocation: sourceLocation)
    }

    /// The first line that differs, for the failure message.
    static func firstDifference(_ actual: String, _ expected: String) -> String {
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false), e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        for index in 0..<max(a.count, e.count) {
            let left = index < a.count ? String(a[index]) : "<end>", right = index < e.count ? String(e[index]) : "<end>"
            if left != right { return "line \(index + 1):\n  output: \(left)\n  golden: \(right)" }
        }
        return ""
    }
}

/// Waits until `condition` holds, up to `timeout`: tests wait for a state, never a bare sleep.
public func eventually(_ timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(50), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}
