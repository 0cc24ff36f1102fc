/// What `devctl gen` did, per plugin.
public struct GenerateReport: Sendable, Codable, Equatable {
    /// Nothing had changed since the last run, so no plugin ran.
    public var cached: Bool
    /// `--check`: nothing was written; `written`/`removed` list what would change.
    public var check: Bool
    public var plugins: [PluginReport]
    /// Files removed because no plugin produces them any more (with `clean: true`).
    public var removed: [String]

    /// Every generated file on disk matches what the plugins produce.
    public var upToDate: Bool {
        plugins.allSatisfy { $0.written.isEmpty } && removed.isEmpty
    }
}

/// One plugin's share of a run.
public struct PluginReport: Sendable, Codable, Equatable {
    public var plugin: String
    public var out: String
    /// Files whose content changed (or would change with `--check`), repository-relative.
    public var written: [String]
    /// How many produced files were already up to date.
    public var unchanged: Int
    /// Stale files removed from this plugin's out folder (with `clean: true`).
    public var removed: [String] = []
    /// Wall time of the plugin's requests, in milliseconds (0 when cached).
    public var durationMs: Int
}
