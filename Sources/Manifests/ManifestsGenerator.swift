import Foundation
import StackModel

/// `devctl manifests`: reads the deploy modules and environments **from the git index** (what
/// will be committed), renders them with devctl.yaml, and writes `deploy/manifests/<env>/`
/// (unchanged files untouched, stale ones removed), or with `check` only reports.
public struct ManifestsGenerator: Sendable {
    public let repositoryRoot: String
    public let stack: StackConfig

    public init(repositoryRoot: String, stack: StackConfig) {
        self.repositoryRoot = repositoryRoot
        self.stack = stack
    }

    /// A deploy file whose working-tree state is not what git has staged.
    public struct NotStaged: Sendable, Encodable, Equatable {
        public var path: String
        /// `untracked`, `modified` or `deleted` (in the working tree, not staged).
        public var change: String
        /// The command that stages it.
        public var fix: String
    }

    public struct Report: Sendable, Encodable {
        public var environment: String
        public var check: Bool
        public var modules: [String]
        public var written: [String]
        public var unchanged: Int
        public var removed: [String]
        public var notStaged: [NotStaged]
        public var upToDate: Bool { written.isEmpty && removed.isEmpty }
    }

    public func run(environment name: String, check: Bool, strict: Bool) throws -> Report {
        let git = try GitIndex(discoveringFrom: repositoryRoot)
        let prefix = Self.relativePrefix(root: git.root, repository: repositoryRoot)
        let staged = try git.stagedFiles(under: prefix + "deploy/")
        let notStaged = try git.unstagedChanges(under: prefix + "deploy/").compactMap { entry -> NotStaged? in
            let path = String(entry.path.dropFirst(prefix.count))
            guard path.hasPrefix("deploy/k8s/") || path.hasPrefix("deploy/envs/"), path.hasSuffix(".yaml") else { return nil }
            switch entry.change {
            case .untracked: return NotStaged(path: path, change: "untracked", fix: "git add \(path)")
            case .modifiedNotStaged: return NotStaged(path: path, change: "modified", fix: "git add \(path)")
            case .deletedNotStaged: return NotStaged(path: path, change: "deleted", fix: "git rm \(path)")
            }
        }
        if strict, !notStaged.isEmpty {
            throw ManifestsError.failure("deploy files differ from what git has staged:\n  " + notStaged.map { "\($0.path) (\($0.change)): \($0.fix)" }.joined(separator: "\n  "),
                                         hint: "stage them, or leave out --strict to render the staged versions")
        }
        let files = Dictionary(uniqueKeysWithValues: staged.map { (String($0.key.dropFirst(prefix.count)), $0.value) })
        let environments = files.keys.filter { $0.hasPrefix("deploy/envs/") && $0.hasSuffix(".yaml") }
            .map { String($0.dropFirst("deploy/envs/".count).dropLast(".yaml".count)) }.sorted()
        guard let environmentText = files["deploy/envs/\(name).yaml"] else {
            throw ManifestsError.usage("no environment \"\(name)\" staged in git (deploy/envs/\(name).yaml)",
                                       hint: environments.isEmpty ? "add deploy/envs/\(name).yaml and git add it" : "environments: \(environments.joined(separator: ", "))")
        }
        let environment = try DeployEnvironment.parse(String(decoding: environmentText, as: UTF8.self), name: name, file: "deploy/envs/\(name).yaml")
        let modulePaths = files.keys.filter { $0.hasPrefix("deploy/k8s/") && $0.hasSuffix(".yaml") }.sorted()
        guard !modulePaths.isEmpty else {
            throw ManifestsError.usage("no deploy modules are staged in git (deploy/k8s/*.yaml)", hint: "git add deploy/k8s/")
        }
        var modules: [DeployModule] = []
        for path in modulePaths {
            let module = try DeployModule.parse(String(decoding: files[path] ?? Data(), as: UTF8.self), file: path)
            guard stack.service(named: module.app) != nil else {
                throw ManifestsError.usage("\(path): app \"\(module.app)\" is not a service in devctl.yaml",
                                           hint: "services: \(stack.services.map(\.name).joined(separator: ", "))")
            }
            modules.append(module)
        }
        let rendered = try ManifestRenderer(stack: stack, modules: modules, environment: environment).render()
        var report = Report(environment: name, check: check, modules: modules.map(\.app).sorted(), written: [], unchanged: 0, removed: [], notStaged: notStaged)
        let wanted = Set(rendered.map(\.path))
        for manifest in rendered {
            let path = repositoryRoot + "/" + manifest.path
            if FileManager.default.contents(atPath: path) == Data(manifest.text.utf8) {
                report.unchanged += 1
                continue
            }
            report.written.append(manifest.path)
            guard !check else { continue }
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(manifest.text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        }
        let outputFolder = "deploy/manifests/\(name)"
        let enumerator = FileManager.default.enumerator(atPath: repositoryRoot + "/" + outputFolder)
        while let relative = enumerator?.nextObject() as? String {
            let path = outputFolder + "/" + relative
            guard relative.hasSuffix(".yaml"), !wanted.contains(path) else { continue }
            report.removed.append(path)
            if !check { try FileManager.default.removeItem(atPath: repositoryRoot + "/" + path) }
        }
        report.removed.sort()
        return report
    }

    /// The repository folder's path inside the git work tree ("" when it is the top).
    static func relativePrefix(root: String, repository: String) -> String {
        let resolvedRoot = URL(fileURLWithPath: root).resolvingSymlinksInPath().path
        let resolvedRepository = URL(fileURLWithPath: repository).resolvingSymlinksInPath().path
        guard resolvedRepository.hasPrefix(resolvedRoot), resolvedRepository != resolvedRoot else { return "" }
        return String(resolvedRepository.dropFirst(resolvedRoot.count + 1)) + "/"
    }
}
