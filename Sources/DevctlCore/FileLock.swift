#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An exclusive advisory lock on a file (`flock`), released when the holder exits or crashes.
///
/// Serialises devctl processes that touch the same state (two `db migrate` racing to start the
/// embedded cluster). The kernel drops the lock with the process, so a `kill -9` never leaves it stuck.
public final class FileLock: Sendable {
    private let descriptor: Int32
    /// The lock file's path.
    public let path: String

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { close(descriptor) }

    /// Takes the lock, polling until `timeout` runs out.
    public static func acquire(at path: String, timeout: Duration = .seconds(60)) async throws -> FileLock {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw DevctlFailure("cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                close(fd)
                throw DevctlFailure("cannot lock \(path): \(String(cString: strerror(errno)))")
            }
            guard clock.now < deadline else {
                close(fd)
                throw DevctlFailure(
                    "timed out waiting for the lock \(path)",
                    hint: "another devctl process holds it; wait for it to finish"
                )
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        return FileLock(descriptor: fd, path: path)
    }

    /// Takes the lock if nobody holds it; `nil` when another process does.
    public static func tryAcquire(at path: String) throws -> FileLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw DevctlFailure("cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        return FileLock(descriptor: fd, path: path)
    }

    /// True when some process holds the lock at `path` right now.
    public static func isHeld(at path: String) -> Bool {
        guard FileManager.default.fileExists(atPath: path), let lock = try? tryAcquire(at: path) else {
            return FileManager.default.fileExists(atPath: path)
        }
        lock.release()
        return false
    }

    /// Releases the lock now rather than when the object goes away.
    public func release() {
        flock(descriptor, LOCK_UN)
    }
}
