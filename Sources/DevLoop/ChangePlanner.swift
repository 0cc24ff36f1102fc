import StackModel

/// One build target of the package, as `swift package describe` lists it.
public struct BuildTarget: Sendable, Equatable, Codable {
    public var name: String
    /// Its folder, relative to the repository root (`Sources/Services`).
    public var path: String
    /// The targets it depends on directly.
    public var dependencies: [String]

    public init(name: String, path: String, dependencies: [String]) {
        self.name = name
        self.path = path
        self.dependencies = dependencies
    }
}

/// What `up --watch` does about a batch of changed files. Pure: paths in, actions out.
public struct ChangePlan: Sendable, Equatable {
    /// A `.proto` changed: `devctl gen` first (its output is Swift, so a build follows).
    public var regenerate = false
    /// devctl.yaml changed: validate it; only a valid file is applied.
    public var configChanged = false
    /// Services with a new or changed migration: `db migrate` each.
    public var migrate: [String] = []
    /// Swift code (or generated code) changed: one incremental `swift build`.
    public var build = false
    /// Services to restart after a successful build, in dependency order.
    public var restart: [String] = []
    /// The supervisor's own code changed: it keeps running the old code until `up` is restarted.
    public var supervisorChanged = false
    /// Services whose `build` step must run again (a file under its `watch` folders changed).
    public var serviceBuilds: [String] = []
    /// Files that matter to nothing that runs (templates, docs, tests).
    public var unaffected: [String] = []

    public init() {}

    /// True when nothing is to be done.
    public var isEmpty: Bool { !regenerate && !configChanged && migrate.isEmpty && !build && restart.isEmpty && !supervisorChanged && serviceBuilds.isEmpty }
}

/// Maps changed files to actions: a service's own folder → that service; code every service
/// shares → every Swift service; the supervisor's code → "restart up"; protos → gen, build and
/// the services that link the generated code; a migration → that service's `db migrate`.
public struct ChangePlanner: Sendable {
    public let config: StackConfig
    public let targets: [BuildTarget]
    /// The target the services are compiled into (one folder per service below it).
    public static let servicesTarget = "Services"
    /// Targets whose code the supervisor itself runs (beyond what the services share).
    public static let supervisorTargets: Set<String> = ["Stack", "StackModel", "YAMLSupport", "DevctlCore", "CProcessSpawn", "Database", "Telemetry", "DevLoop", "Dashboard", "devctl"]
    /// The shared platform inside the services target: every service runs it.
    public static let sharedServiceFolders: Set<String> = ["Platform"]

    /// Without the package's targets (no Package.swift, or `swift package describe` failed), the
    /// convention `devctl new` follows: one folder per service under `Sources/Services`.
    public init(config: StackConfig, targets: [BuildTarget]) {
        self.config = config
        self.targets = targets.isEmpty ? [BuildTarget(name: Self.servicesTarget, path: "Sources/Services", dependencies: [])] : targets
    }

    /// Services the stack runs from this repository's Swift code (not `command:` ones).
    var swiftServices: [ServiceSpec] { config.services.filter { $0.command == nil } }

    /// Whether `path` (relative to the repository root) is noise: build output, devctl's own
    /// state, git, editor swap and backup files.
    public static func isIgnored(_ path: String) -> Bool {
        let components = path.split(separator: "/")
        if components.contains(where: { $0.hasPrefix(".build") || $0 == ".devctl" || $0 == ".git" || $0 == ".swiftpm" }) { return true }
        guard let name = components.last else { return true }
        return name.hasSuffix(".swp") || name.hasSuffix(".swx") || name.hasSuffix("~") || name.hasPrefix(".#")
            || name == "4913" || name.hasSuffix(".tmp") || name.hasPrefix(".~") || name == ".DS_Store"
    }

    public func plan(_ changedPaths: [String]) -> ChangePlan {
        var plan = ChangePlan()
        var restart = Set<String>()
        var changedTargets = Set<String>()
        for path in Set(changedPaths).sorted() where !Self.isIgnored(path) {
            if path == FileWatcher.eventsLost {
                // Unknown changes: rebuild, restart every service, and say the supervisor may be stale.
                plan.build = true
                plan.supervisorChanged = true
                restart.formUnion(swiftServices.map(\.name))
                continue
            }
            if path == "devctl.yaml" {
                plan.configChanged = true
                continue
            }
            if path.hasPrefix("proto/"), path.hasSuffix(".proto") {
                plan.regenerate = true
                plan.build = true
                changedTargets.insert("Protos")
                continue
            }
            // A service's own build inputs (the frontend's sources): its build step, then it.
            let building = config.services.filter { service in
                service.build?.watch.contains { path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") || path == $0 } ?? false
            }
            if !building.isEmpty {
                for service in building where !plan.serviceBuilds.contains(service.name) { plan.serviceBuilds.append(service.name) }
                continue
            }
            if path.hasSuffix(".sql"), let service = config.services.first(where: { service in
                service.migrations.map { path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") } ?? false
            }) {
                if !plan.migrate.contains(service.name) { plan.migrate.append(service.name) }
                continue
            }
            guard path.hasSuffix(".swift") || path.hasSuffix(".c") || path.hasSuffix(".h"),
                  let target = owningTarget(of: path), !target.path.hasPrefix("Tests/") else {
                if path == "Package.swift" {
                    plan.build = true
                    plan.supervisorChanged = true
                    restart.formUnion(swiftServices.map(\.name))
                } else {
                    plan.unaffected.append(path)
                }
                continue
            }
            plan.build = true
            if target.name == Self.servicesTarget {
                // Sources/Services/<Folder>/…: that service alone, unless the folder is shared.
                let rest = path.dropFirst(target.path.count + 1)
                let folder = rest.split(separator: "/").first.map(String.init) ?? ""
                if rest.contains("/"), !Self.sharedServiceFolders.contains(folder) {
                    if let service = swiftServices.first(where: { Self.folderName(of: $0.name) == folder }) {
                        restart.insert(service.name)
                    }
                    // A folder no running service owns (a service not in devctl.yaml yet): build only.
                    continue
                }
                restart.formUnion(swiftServices.map(\.name))
                continue
            }
            changedTargets.insert(target.name)
        }
        // Targets the services link, changed: every Swift service. The supervisor's own: say so.
        for target in changedTargets {
            let dependents = dependents(of: target)
            if dependents.contains(Self.servicesTarget) || target == Self.servicesTarget { restart.formUnion(swiftServices.map(\.name)) }
            if Self.supervisorTargets.contains(target) { plan.supervisorChanged = true }
        }
        if plan.regenerate { restart.formUnion(swiftServices.map(\.name)) }
        let order = (try? config.startOrder(of: nil, includeDependencies: false).map(\.name)) ?? config.services.map(\.name)
        plan.restart = order.filter(restart.contains)
        return plan
    }

    /// `custom-lang` → `CustomLang`: the folder `devctl new service` gives a service.
    public static func folderName(of service: String) -> String {
        service.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// The target whose folder holds `path` (the longest match: nested targets win).
    func owningTarget(of path: String) -> BuildTarget? {
        targets.filter { path.hasPrefix($0.path + "/") }.max { $0.path.count < $1.path.count }
    }

    /// Every target that depends on `name`, directly or not.
    func dependents(of name: String) -> Set<String> {
        var result = Set<String>()
        var frontier = [name]
        while let next = frontier.popLast() {
            for target in targets where target.dependencies.contains(next) && !result.contains(target.name) {
                result.insert(target.name)
                frontier.append(target.name)
            }
        }
        return result
    }
}
