import DevctlCore
import Foundation

/// Debian's PostgreSQL server programs (`initdb`, `pg_ctl`, `postgres`).
public struct PostgresBinaries: Sendable, Equatable {
    public var initdb: String
    public var pgCtl: String
    public var postgres: String

    /// Finds the programs in the newest `/usr/lib/postgresql/N/bin`, else on `PATH`.
    ///
    /// Debian puts only wrappers on PATH (pg_ctlcluster and friends), so the versioned folder
    /// comes first; all three must come from the same folder.
    public static func locate() throws -> PostgresBinaries {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions {
            let bin = "\(root)/\(version)/bin"
            if let found = PostgresBinaries(directory: bin) { return found }
        }
        if let initdb = Subprocess.findExecutable("initdb"),
           let found = PostgresBinaries(directory: (initdb as NSString).deletingLastPathComponent) {
            return found
        }
        throw DevctlFailure(
            "PostgreSQL server programs (initdb, pg_ctl, postgres) were not found in /usr/lib/postgresql/*/bin or on PATH",
            hint: "install them (apt-get install -y postgresql), or point devctl at a running server with DATABASE_URL=postgresql://USER:PASSWORD@HOST:PORT/postgres"
        )
    }

    private init?(directory: String) {
        let fileManager = FileManager.default
        let paths = ["initdb", "pg_ctl", "postgres"].map { "\(directory)/\($0)" }
        guard paths.allSatisfy(fileManager.isExecutableFile(atPath:)) else { return nil }
        initdb = paths[0]
        pgCtl = paths[1]
        postgres = paths[2]
    }
}
