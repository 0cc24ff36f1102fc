#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOConcurrencyHelpers
import Synchronization

/// Watches a folder tree with inotify (Foundation on Linux has no file-system events, and no
/// package here wraps inotify): one watch per directory, new directories watched as they appear
/// (their files reported, since they may have been written before the watch was added), ignored
/// directories (``ChangePlanner/isIgnored(_:)``: `.build*`, `.devctl`, `.git` …) never entered.
/// Paths come out relative to the root, on ``changes``.
public final class FileWatcher: Sendable {
    public let root: String
    /// Changed files (written and closed, moved in or out, deleted), relative to ``root``.
    public let changes: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation
    private let descriptor: Int32
    private let directories = NIOLockedValueBox<[Int32: String]>([:])
    private let stopped = Atomic<Bool>(false)

    static let directoryMask = UInt32(IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF)

    /// Starts watching `root` (and everything below it that is not ignored).
    public init(root: String) throws {
        self.root = root.hasSuffix("/") ? String(root.dropLast()) : root
        (changes, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(100_000))
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else {
            throw WatchError("cannot start watching files (inotify_init1: \(String(cString: strerror(errno))))",
                             hint: "raise fs.inotify.max_user_instances (sysctl) if many watchers run")
        }
        do {
            try watchTree("")
        } catch {
            close(descriptor)
            throw error
        }
        // Its own thread: reading blocks (in poll), which a cooperative thread must not.
        let worker = Thread { [self] in readLoop() }
        worker.name = "devctl-watch"
        worker.start()
    }

    /// Stops watching (within 100 ms); ``changes`` ends.
    public func stop() {
        stopped.store(true, ordering: .releasing)
    }

    /// Adds a watch on `relative` and every directory below it; reports the files found when
    /// `reportFiles` (a directory that appeared while running).
    private func watchTree(_ relative: String, reportFiles: Bool = false) throws {
        let absolute = relative.isEmpty ? root : root + "/" + relative
        let watch = inotify_add_watch(descriptor, absolute, Self.directoryMask)
        if watch < 0 {
            if errno == ENOENT || errno == ENOTDIR { return }  // gone again already
            throw WatchError("cannot watch \(absolute) (inotify_add_watch: \(String(cString: strerror(errno))))",
                             hint: "raise fs.inotify.max_user_watches (sysctl), or watch a smaller tree")
        }
        directories.withLockedValue { $0[watch] = relative }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: absolute)) ?? []
        for entry in entries.sorted() {
            let child = relative.isEmpty ? entry : relative + "/" + entry
            if ChangePlanner.isIgnored(child) { continue }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root + "/" + child, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                try watchTree(child, reportFiles: reportFiles)
            } else if reportFiles {
                continuation.yield(child)
            }
        }
    }

    private func readLoop() {
        defer {
            close(descriptor)
            continuation.finish()
        }
        let size = 64 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<inotify_event>.alignment)
        defer { buffer.deallocate() }
        while !stopped.load(ordering: .acquiring) {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            // A short timeout: stop() is seen within it.
            guard poll(&poller, 1, 100) > 0 else { continue }
            let count = read(descriptor, buffer, size)
            guard count > 0 else { continue }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let event = buffer.load(fromByteOffset: offset, as: inotify_event.self)
                let nameStart = buffer.advanced(by: offset + MemoryLayout<inotify_event>.size)
                let name = event.len > 0 ? String(cString: nameStart.assumingMemoryBound(to: CChar.self)) : ""
                offset += MemoryLayout<inotify_event>.size + Int(event.len)
                handle(watch: event.wd, mask: event.mask, name: name)
            }
        }
    }

    /// Reported when the kernel dropped events (its queue overflowed, a huge checkout): what
    /// changed is unknown, so everything is treated as changed.
    public static let eventsLost = "(file events lost)"

    private func handle(watch: Int32, mask: UInt32, name: String) {
        if mask & UInt32(IN_Q_OVERFLOW) != 0 {
            continuation.yield(Self.eventsLost)
            return
        }
        if mask & UInt32(IN_IGNORED) != 0 || mask & UInt32(IN_DELETE_SELF) != 0 {
            _ = directories.withLockedValue { $0.removeValue(forKey: watch) }
            return
        }
        guard let directory = directories.withLockedValue({ $0[watch] }), !name.isEmpty else { return }
        let path = directory.isEmpty ? name : directory + "/" + name
        if ChangePlanner.isIgnored(path) { return }
        if mask & UInt32(IN_ISDIR) != 0 {
            // A new (or moved-in) directory: watch it, and report what is already inside.
            if mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 { try? watchTree(path, reportFiles: true) }
            return
        }
        // A file merely created is reported when it is closed after writing (IN_CLOSE_WRITE).
        if mask & UInt32(IN_CREATE) != 0 { return }
        continuation.yield(path)
    }
}

/// Watching could not start (inotify limits, a folder that cannot be read).
public struct WatchError: Error, CustomStringConvertible {
    public var message: String
    public var hint: String
    init(_ message: String, hint: String) {
        self.message = message
        self.hint = hint
    }
    public var description: String { "\(message); \(hint)" }
}
