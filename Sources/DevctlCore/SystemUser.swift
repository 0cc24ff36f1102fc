#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A system account, looked up with `getpwnam`.
public struct SystemUser: Sendable, Equatable {
    public let name: String
    public let uid: uid_t
    public let gid: gid_t
    /// Every group the user belongs to, primary group included.
    public let groups: [gid_t]

    /// The account called `name`, or `nil` when there is none.
    public static func named(_ name: String) -> SystemUser? {
        guard let entry = getpwnam(name) else { return nil }
        let uid = entry.pointee.pw_uid
        let gid = entry.pointee.pw_gid
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        #if canImport(Glibc)
        if getgrouplist(name, gid, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(name, gid, &groups, &count)
        }
        groups = Array(groups.prefix(Int(max(count, 0))))
        #else
        groups = [gid]
        #endif
        return SystemUser(name: name, uid: uid, gid: gid, groups: groups)
    }

    /// True when this process runs as root.
    public static var isRoot: Bool { geteuid() == 0 }

    /// The first directory on the way to `path` (itself included) that this user cannot enter,
    /// with its mode, or `nil` when every one is traversable.
    public func firstUntraversableDirectory(on path: String) -> (path: String, mode: String)? {
        var current = ""
        let components = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
        for component in components {
            current = component == "/" ? "/" : (current == "/" ? "/" + component : current + "/" + component)
            var info = stat()
            guard stat(current, &info) == 0 else { return nil } // does not exist yet: we create it
            guard (info.st_mode & S_IFMT) == S_IFDIR else { continue }
            if uid == 0 { continue }
            let mode = info.st_mode
            let allowed: Bool
            if info.st_uid == uid {
                allowed = mode & S_IXUSR != 0
            } else if groups.contains(info.st_gid) {
                allowed = mode & S_IXGRP != 0
            } else {
                allowed = mode & S_IXOTH != 0
            }
            if !allowed { return (current, String(mode & 0o7777, radix: 8)) }
        }
        return nil
    }

    /// Makes this user the owner of `path` (not recursive).
    public func takeOwnership(of path: String) throws {
        guard chown(path, uid, gid) == 0 else {
            throw DevctlFailure("cannot give \(path) to user '\(name)': \(String(cString: strerror(errno)))")
        }
    }
}
