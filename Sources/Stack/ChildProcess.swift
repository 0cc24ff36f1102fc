#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DevctlCore
import Foundation
import Synchronization

/// A supervised child: its own process group (so a terminal's Ctrl-C reaches only the
/// supervisor, which stops children in order), SIGTERM when the supervisor dies
/// (`PR_SET_PDEATHSIG`), stdout+stderr merged into one pipe read line by line into its ``LogSink``.
final class ChildProcess: Sendable {
    let pid: pid_t
    let name: String

    private init(pid: pid_t, name: String) {
        self.pid = pid
        self.name = name
    }

    /// Starts the process; `onExit` gets its pid and exit status (128 + signal when killed).
    static func start(name: String, executable: String, arguments: [String], environment: [String: String],
                      workingDirectory: String, sink: LogSink, onExit: @escaping @Sendable (pid_t, Int32) -> Void) async throws -> ChildProcess {
        let (readEnd, writeEnd) = try makeCloseOnExecPipe()
        let pid: pid_t
        do {
            // The kernel sends the parent-death signal when the *thread* that forked exits, so
            // children are forked from one thread that lives as long as the supervisor.
            pid = try await SpawnThread.shared.run {
                try ProcessSpawner.spawn(executable, arguments, environment: environment, workingDirectory: workingDirectory,
                                         newProcessGroup: true, parentDeathSignal: SIGTERM, stdout: writeEnd, stderr: writeEnd)
            }
        } catch {
            close(readEnd)
            close(writeEnd)
            throw error
        }
        close(writeEnd)
        let child = ChildProcess(pid: pid, name: name)
        // The exit is reported once the output is in the log too (a report of why a process
        // died quotes its last lines); a background child that keeps the pipe open delays it
        // by at most two seconds.
        let drained = DispatchSemaphore(value: 0)
        Subprocess.onOwnThread {
            Self.pump(readEnd, into: sink)
            drained.signal()
        }
        Subprocess.onOwnThread {
            let status = ProcessSpawner.wait(for: pid)
            _ = drained.wait(timeout: .now() + 2)
            onExit(pid, status)
        }
        return child
    }

    /// Sends `signal` to the child's process group (it and anything it started).
    func signal(_ signal: Int32) {
        kill(-pid, signal)
        kill(pid, signal)
    }

    /// Copies the pipe into the sink until every writer has closed it: what one read returned,
    /// up to its last newline, goes to the sink in one piece (one file write for many lines, no
    /// string per line unless a console shows them); a partial line waits for its end.
    static func pump(_ descriptor: Int32, into sink: LogSink) {
        defer { close(descriptor) }
        var partial: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            let chunk = buffer[0..<count]
            guard let lastNewline = chunk.lastIndex(of: 0x0A) else {
                partial.append(contentsOf: chunk)
                if partial.count > 64 * 1024 { // a line without end: flush it rather than grow forever
                    partial.append(0x0A)
                    sink.write(lines: partial[...])
                    partial.removeAll(keepingCapacity: true)
                }
                continue
            }
            if partial.isEmpty {
                sink.write(lines: chunk[...lastNewline])
            } else {
                partial.append(contentsOf: chunk[...lastNewline])
                sink.write(lines: partial[...])
                partial.removeAll(keepingCapacity: true)
            }
            partial.append(contentsOf: chunk[(lastNewline + 1)...])
        }
        if !partial.isEmpty {
            partial.append(0x0A)
            sink.write(lines: partial[...])
        }
    }
}

/// One long-lived thread that runs spawns (see ``ChildProcess/start``).
final class SpawnThread: Sendable {
    static let shared = SpawnThread()

    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let semaphore = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in
            while true {
                semaphore.wait()
                let job = jobs.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                job?()
            }
        }
        thread.stackSize = 256 * 1024
        thread.start()
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            jobs.withLock { $0.append { continuation.resume(with: Result { try body() }) } }
            semaphore.signal()
        }
    }
}
