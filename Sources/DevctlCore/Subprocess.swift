#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Runs a program to completion and captures its output.
///
/// ``ProcessSpawner`` does the work; this type adds what every caller needed: both pipes
/// drained concurrently (a chatty child never blocks on a full pipe), an optional user to run as
/// (PostgreSQL refuses root), and errors that say which command failed and what it printed.
public struct Subprocess: Sendable {
    /// The program to run, as an absolute path.
    public var executable: String
    public var arguments: [String]
    /// Extra environment on top of the current process's environment (or the whole
    /// environment, when `inheritsEnvironment` is false).
    public var environment: [String: String]
    /// Whether the program starts with this process's environment under `environment`.
    public var inheritsEnvironment = true
    /// Working directory, or the current one.
    public var workingDirectory: String?
    /// Run as this system user (only possible when we are root).
    public var user: String?
    /// Bytes fed to the program's standard input (else it reads /dev/null).
    public var input: Data?

    public init(
        _ executable: String,
        _ arguments: [String] = [],
        environment: [String: String] = [:],
        workingDirectory: String? = nil,
        user: String? = nil,
        input: Data? = nil
    ) {
        self.input = input
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
    }

    /// What a finished process left behind.
    public struct Output: Sendable {
        public var status: Int32
        /// Standard output as bytes (plugin responses are binary).
        public var stdoutBytes: Data
        public var stderr: String
        public var succeeded: Bool { status == 0 }
        /// Standard output as UTF-8 text.
        public var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
    }

    /// The command line as a user would type it, for error messages.
    public var commandLine: String {
        ([executable] + arguments).map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
    }

    /// Runs the program and returns its status and output, whatever the status.
    public func output() async throws -> Output {
        let stdoutPipe = try CloseOnExecPipe()
        let stderrPipe = try CloseOnExecPipe()
        let stdinPipe = try input.map { _ in try CloseOnExecPipe() }
        if input != nil { Subprocess.ignoreBrokenPipes() }
        let command = self
        return try await withCheckedThrowingContinuation { continuation in
            // All of it on a thread of its own, the spawn too: it waits for the child's exec,
            // which on a loaded machine takes long enough to hold up a caller on Swift's
            // cooperative pool (as many threads as cores).
            Subprocess.onOwnThread {
                let pid: pid_t
                do {
                    pid = try ProcessSpawner.spawn(
                        command.executable, command.arguments, environment: command.environment, inheritEnvironment: command.inheritsEnvironment,
                        workingDirectory: command.workingDirectory, user: command.user, stdin: stdinPipe?.read.fileDescriptor ?? -1,
                        stdout: stdoutPipe.write.fileDescriptor, stderr: stderrPipe.write.fileDescriptor
                    )
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                try? stdoutPipe.write.close()
                try? stderrPipe.write.close()
                if let stdinPipe, let input = command.input {
                    try? stdinPipe.read.close()
                    // Fed from its own thread: a program that writes before it has read everything
                    // would otherwise deadlock against us.
                    Subprocess.onOwnThread {
                        try? stdinPipe.write.write(contentsOf: input)
                        try? stdinPipe.write.close()
                    }
                }
                let group = DispatchGroup()
                let collected = OutputBox()
                for (pipe, isStdout) in [(stdoutPipe, true), (stderrPipe, false)] {
                    group.enter()
                    Subprocess.onOwnThread {
                        let data = (try? pipe.read.readToEnd()) ?? Data()
                        collected.set(data, stdout: isStdout)
                        group.leave()
                    }
                }
                let status = ProcessSpawner.wait(for: pid)
                group.wait()
                let (out, err) = collected.get()
                continuation.resume(returning: Output(status: status, stdoutBytes: out, stderr: String(decoding: err, as: UTF8.self)))
            }
        }
    }

    /// Runs the program and throws, quoting its error output, unless it exits 0.
    @discardableResult
    public func run() async throws -> Output {
        let result = try await output()
        guard result.succeeded else {
            let detail = (result.stderr.isEmpty ? result.stdout : result.stderr)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            throw DevctlFailure("`\(commandLine)` failed (exit \(result.status)):\n\(detail)")
        }
        return result
    }

    /// Blocking reads and waits run on threads of their own, not on Dispatch's bounded pool: many
    /// concurrent subprocesses (parallel tests, initdb, plugins) would otherwise starve each other.
    public static func onOwnThread(_ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.stackSize = 256 * 1024
        thread.start()
    }

    /// A program that exits without reading its input must not kill us with SIGPIPE; the
    /// failed write is ignored and the program's status tells what happened.
    private static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Finds `name` on `PATH` or in `extraDirectories`; returns an absolute path.
    public static func findExecutable(_ name: String, extraDirectories: [String] = []) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let directories = path.split(separator: ":").map(String.init) + extraDirectories
        for directory in directories {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// A pipe whose descriptors close on exec, so only the child's stdout/stderr copies survive.
private struct CloseOnExecPipe: @unchecked Sendable {
    let read: FileHandle
    let write: FileHandle

    init() throws {
        let descriptors = try makeCloseOnExecPipe()
        read = FileHandle(fileDescriptor: descriptors.read, closeOnDealloc: true)
        write = FileHandle(fileDescriptor: descriptors.write, closeOnDealloc: true)
    }
}

/// Collects two strings written from two threads.
private final class OutputBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stdout = Data()
    private var stderr = Data()

    func set(_ text: Data, stdout isStdout: Bool) {
        lock.lock()
        defer { lock.unlock() }
        if isStdout { stdout = text } else { stderr = text }
    }

    func get() -> (Data, Data) {
        lock.lock()
        defer { lock.unlock() }
        return (stdout, stderr)
    }
}

/// A pipe whose two descriptors close on exec (only the copies a spawn puts on 0-2 survive).
public func makeCloseOnExecPipe() throws -> (read: Int32, write: Int32) {
    var descriptors: [Int32] = [0, 0]
    guard pipe(&descriptors) == 0 else {
        throw DevctlFailure("cannot create a pipe: \(String(cString: strerror(errno)))")
    }
    // pipe2(O_CLOEXEC) is not exported by the Glibc module; set the flag right after. Spawns
    // block nothing here, but CProcessSpawn closes every descriptor >= 3 in the child anyway.
    for descriptor in descriptors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
    return (descriptors[0], descriptors[1])
}
