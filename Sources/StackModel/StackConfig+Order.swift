extension StackConfig {
    /// `names` and (unless `includeDependencies` is false) everything they depend on, in an
    /// order where each service comes after its dependencies; file order breaks ties.
    /// `nil` names means the whole stack. Assumes a validated (acyclic) configuration.
    public func startOrder(of names: [String]? = nil, includeDependencies: Bool = true) throws -> [ServiceSpec] {
        let requested = names ?? services.map(\.name)
        for name in requested where service(named: name) == nil {
            throw UnknownServiceError(name: name, known: services.map(\.name))
        }
        var wanted = Set(requested)
        if includeDependencies {
            var pending = requested
            while let name = pending.popLast() {
                for dependency in service(named: name)?.dependsOn ?? [] where wanted.insert(dependency).inserted {
                    pending.append(dependency)
                }
            }
        }
        var ordered: [ServiceSpec] = []
        var placed = Set<String>()
        func place(_ spec: ServiceSpec) {
            guard !placed.contains(spec.name) else { return }
            placed.insert(spec.name)
            for dependency in spec.dependsOn where wanted.contains(dependency) {
                if let dependencySpec = service(named: dependency) { place(dependencySpec) }
            }
            ordered.append(spec)
        }
        for spec in services where wanted.contains(spec.name) { place(spec) }
        return ordered
    }
}
