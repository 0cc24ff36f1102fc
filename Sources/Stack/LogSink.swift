#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// Where one process's output goes: its log file under `.devctl/logs/` (rotated by size to
/// `NAME.log.1`), and in the foreground the merged console stream with a `name |` prefix.
final class LogSink: Sendable {
    let name: String
    let path: String
    let maxBytes: Int
    let console: ConsoleStream?
    /// The stack's event ring (the dashboard's log view), when the supervisor keeps one.
    let events: StackEvents?
    private let file: Mutex<(descriptor: Int32, size: Int)>

    init(name: String, path: String, maxBytes: Int = 10 * 1024 * 1024, console: ConsoleStream?, events: StackEvents? = nil) {
        self.name = name
        self.events = events
        self.path = path
        self.maxBytes = maxBytes
        self.console = console
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        var info = stat()
        let size = descriptor >= 0 && fstat(descriptor, &info) == 0 ? Int(info.st_size) : 0
        file = Mutex((descriptor, size))
    }

    deinit {
        file.withLock { if $0.descriptor >= 0 { close($0.descriptor) } }
    }

    /// Appends one line (without its newline) to the file and the console.
    func write(line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        write(lines: bytes[...])
    }

    /// Appends whole lines (each newline-terminated) to the file in one write, and shows each
    /// on the console when there is one. Rotation happens between writes, so a file holds whole
    /// lines only.
    func write(lines bytes: ArraySlice<UInt8>) {
        guard !bytes.isEmpty else { return }
        file.withLock { state in
            if state.size + bytes.count > maxBytes, state.descriptor >= 0 {
                // Rotate: NAME.log → NAME.log.1 (one old file kept), then start afresh.
                close(state.descriptor)
                rename(path, path + ".1")
                state.descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
                state.size = 0
            }
            guard state.descriptor >= 0 else { return }
            bytes.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                var offset = 0
                while offset < raw.count {
                    let written = Glibc.write(state.descriptor, base + offset, raw.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0, errno == EINTR {
                        continue
                    } else {
                        break
                    }
                }
                state.size += offset
            }
        }
        guard console != nil || events != nil else { return }
        var start = bytes.startIndex
        while let newline = bytes[start...].firstIndex(of: 0x0A) {
            let line = String(decoding: bytes[start..<newline], as: UTF8.self)
            console?.write(name: name, line: line)
            events?.log(source: name, line: line)
            start = newline + 1
        }
    }

    /// The last `count` lines of the log file (for "did not become ready" reports).
    func lastLines(_ count: Int) -> [String] {
        LogReader.tail(path: path, lines: count)
    }
}

/// The foreground's merged output: `name | line`, names aligned, coloured on a terminal; with
/// `human`, the services' JSON lines rendered by ``HumanLogFormat``.
public final class ConsoleStream: Sendable {
    private let width: Int
    private let colours: [String: String]
    private let human: Bool
    private let lock = Mutex(())

    /// `names`: every process that will write (for alignment and stable colours).
    public init(names: [String], colour: Bool, human: Bool = false) {
        self.human = human
        width = names.map(\.count).max() ?? 0
        let palette = ["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"]
        var colours: [String: String] = [:]
        if colour {
            for (index, name) in names.enumerated() { colours[name] = palette[index % palette.count] }
        }
        self.colours = colours
    }

    public func write(name: String, line: String) {
        let padded = name.padding(toLength: width, withPad: " ", startingAt: 0)
        let prefix = colours[name].map { "\u{1B}[\($0)m\(padded) |\u{1B}[0m" } ?? "\(padded) |"
        emit("\(prefix) \(human ? HumanLogFormat.render(line) : line)\n")
    }

    /// A line from devctl itself (progress, errors), under the `devctl` name.
    public func note(_ line: String) {
        write(name: "devctl", line: line)
    }

    private func emit(_ text: String) {
        lock.withLock { _ in
            var bytes = Array(text.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeMutableBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress! + offset, $0.count - offset) }
                if written <= 0 { break }
                offset += written
            }
        }
    }
}
