#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Reads `.devctl/logs/*.log` for `devctl logs` and failure reports.
public enum LogReader {
    /// The last `lines` lines of a file (reads from the end in blocks; big logs are cheap).
    public static func tail(path: String, lines: Int) -> [String] {
        guard lines > 0, let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        guard let end = try? handle.seekToEnd(), end > 0 else { return [] }
        var offset = end
        var buffer = Data()
        let block: UInt64 = 64 * 1024
        while offset > 0 {
            let start = offset > block ? offset - block : 0
            try? handle.seek(toOffset: start)
            let chunk = (try? handle.read(upToCount: Int(offset - start))) ?? Data()
            buffer = chunk + buffer
            offset = start
            if buffer.reduce(0, { $0 + ($1 == 0x0A ? 1 : 0) }) > lines { break }
        }
        var all = String(decoding: buffer, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if all.last == "" { all.removeLast() }
        return Array(all.suffix(lines))
    }

    /// Follows a file from `offset`: new complete lines, and the offset to continue from. A file
    /// that shrank (rotated) is read again from its start.
    public static func readNew(path: String, from offset: UInt64) -> (lines: [String], offset: UInt64) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return ([], 0) }
        defer { try? handle.close() }
        let end = (try? handle.seekToEnd()) ?? 0
        var start = offset
        if end < offset { start = 0 }
        guard end > start else { return ([], start) }
        try? handle.seek(toOffset: start)
        let data = (try? handle.read(upToCount: Int(end - start))) ?? Data()
        guard let lastNewline = data.lastIndex(of: 0x0A) else { return ([], start) }
        let complete = data[data.startIndex...lastNewline]
        let lines = String(decoding: complete, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        return (lines, start + UInt64(complete.count))
    }
}
