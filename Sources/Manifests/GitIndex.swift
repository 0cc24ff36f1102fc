import CGit2
import DevctlCore
import Foundation

/// The repository's git index (staging area), read with libgit2: what `devctl manifests`
/// renders is what will be committed.
final class GitIndex {
    private let repository: OpaquePointer
    /// The working tree's root.
    let root: String

    /// Opens the repository containing `path` (searching upwards, as git does).
    init(discoveringFrom path: String) throws {
        git_libgit2_init()
        var handle: OpaquePointer?
        guard git_repository_open_ext(&handle, path, 0, nil) == 0, let handle else {
            git_libgit2_shutdown()
            throw ManifestsError.usage("\(path) is not in a git repository", hint: "devctl manifests renders the deploy modules staged in git: run git init and git add deploy/")
        }
        repository = handle
        guard let workdir = git_repository_workdir(handle) else {
            git_repository_free(handle)
            git_libgit2_shutdown()
            throw ManifestsError.usage("the repository at \(path) is bare: there is no working tree to render into")
        }
        root = String(cString: workdir).hasSuffix("/") ? String(String(cString: workdir).dropLast()) : String(cString: workdir)
    }

    deinit {
        git_repository_free(repository)
        git_libgit2_shutdown()
    }

    /// The staged content of every file under `prefix` (stage 0: no conflicts), by path.
    func stagedFiles(under prefix: String) throws -> [String: Data] {
        var index: OpaquePointer?
        guard git_repository_index(&index, repository) == 0, let index else { throw Self.lastError("cannot read the git index") }
        defer { git_index_free(index) }
        var files: [String: Data] = [:]
        for position in 0..<git_index_entrycount(index) {
            guard let entry = git_index_get_byindex(index, position), let cPath = entry.pointee.path else { continue }
            let path = String(cString: cPath)
            guard path.hasPrefix(prefix), (entry.pointee.flags & 0x3000) == 0 else { continue }
            var oid = entry.pointee.id
            var blob: OpaquePointer?
            guard git_blob_lookup(&blob, repository, &oid) == 0, let blob else { throw Self.lastError("cannot read the staged \(path)") }
            defer { git_blob_free(blob) }
            let size = Int(git_blob_rawsize(blob))
            files[path] = size == 0 ? Data() : Data(bytes: git_blob_rawcontent(blob), count: size)
        }
        return files
    }

    /// How a working-tree path differs from the index.
    enum Change: Equatable {
        case untracked, modifiedNotStaged, deletedNotStaged
    }

    /// Paths under `prefix` whose working-tree state is not what is staged.
    func unstagedChanges(under prefix: String) throws -> [(path: String, change: Change)] {
        var options = git_status_options()
        git_status_options_init(&options, UInt32(GIT_STATUS_OPTIONS_VERSION))
        options.show = GIT_STATUS_SHOW_WORKDIR_ONLY
        options.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED.rawValue | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS.rawValue
        var list: OpaquePointer?
        guard git_status_list_new(&list, repository, &options) == 0, let list else { throw Self.lastError("cannot read git status") }
        defer { git_status_list_free(list) }
        var changes: [(String, Change)] = []
        for position in 0..<git_status_list_entrycount(list) {
            guard let entry = git_status_byindex(list, position), let delta = entry.pointee.index_to_workdir,
                  let cPath = delta.pointee.new_file.path ?? delta.pointee.old_file.path else { continue }
            let path = String(cString: cPath)
            guard path.hasPrefix(prefix) else { continue }
            let status = entry.pointee.status.rawValue
            if status & GIT_STATUS_WT_NEW.rawValue != 0 {
                changes.append((path, .untracked))
            } else if status & GIT_STATUS_WT_DELETED.rawValue != 0 {
                changes.append((path, .deletedNotStaged))
            } else if status & GIT_STATUS_WT_MODIFIED.rawValue != 0 {
                changes.append((path, .modifiedNotStaged))
            }
        }
        return changes.sorted { $0.0 < $1.0 }
    }

    private static func lastError(_ what: String) -> ManifestsError {
        let detail = git_error_last().flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "unknown libgit2 error"
        return .failure("\(what): \(detail)")
    }
}
