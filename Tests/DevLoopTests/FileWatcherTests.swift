import Foundation
import Testing
import TestSupport
@testable import DevLoop

/// The inotify watcher on a real temp folder.
@Suite struct FileWatcherTests {
    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var paths: [String] = []
        func add(_ path: String) { lock.lock(); paths.append(path); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return paths }
    }

    @Test func reportsWritesInNewFoldersAndIgnoresNoise() async throws {
        let root = NSTemporaryDirectory() + "devctl-watch-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root + "/Sources/Services/Greeter", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/.build/debug", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let watcher = try FileWatcher(root: root)
        defer { watcher.stop() }
        let collected = Collected()
        let reader = Task {
            for await path in watcher.changes { collected.add(path) }
            return true
        }
        defer { reader.cancel() }

        try "let a = 1".write(toFile: root + "/Sources/Services/Greeter/GreeterService.swift", atomically: false, encoding: .utf8)
        #expect(await eventually(.seconds(5)) { collected.all.contains("Sources/Services/Greeter/GreeterService.swift") }, "\(collected.all)")
        // An atomic save (write elsewhere, rename over): the rename is seen.
        try "let a = 2".write(toFile: root + "/devctl.yaml", atomically: true, encoding: .utf8)
        #expect(await eventually(.seconds(5)) { collected.all.contains("devctl.yaml") }, "\(collected.all)")
        // A folder made while watching, with a file written in it at once.
        try FileManager.default.createDirectory(atPath: root + "/Sources/Services/Billing/Deep", withIntermediateDirectories: true)
        try "x".write(toFile: root + "/Sources/Services/Billing/Deep/Billing.swift", atomically: false, encoding: .utf8)
        #expect(await eventually(.seconds(5)) { collected.all.contains("Sources/Services/Billing/Deep/Billing.swift") }, "\(collected.all)")
        // And later writes inside it.
        try "y".write(toFile: root + "/Sources/Services/Billing/Deep/Other.swift", atomically: false, encoding: .utf8)
        #expect(await eventually(.seconds(5)) { collected.all.contains("Sources/Services/Billing/Deep/Other.swift") }, "\(collected.all)")
        // Deleted files count.
        try FileManager.default.removeItem(atPath: root + "/Sources/Services/Billing/Deep/Other.swift")
        // Noise: build output, swap files.
        try "z".write(toFile: root + "/.build/debug/devctl", atomically: false, encoding: .utf8)
        try "z".write(toFile: root + "/Sources/Services/Greeter/.GreeterService.swift.swp", atomically: false, encoding: .utf8)
        try "marker".write(toFile: root + "/marker.txt", atomically: false, encoding: .utf8)
        #expect(await eventually(.seconds(5)) { collected.all.contains("marker.txt") })
        #expect(collected.all.filter { $0 == "Sources/Services/Billing/Deep/Other.swift" }.count >= 2, "deletion not seen: \(collected.all)")
        #expect(!collected.all.contains { $0.hasPrefix(".build") || $0.hasSuffix(".swp") }, "\(collected.all)")

        // Stopping ends the stream (the reading thread closes its descriptor).
        watcher.stop()
        #expect(await reader.value)
    }
}
