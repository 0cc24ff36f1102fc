import Crypto
import DevctlCore
import Foundation

/// One versioned SQL migration file, e.g. `0001_create_greetings.sql`.
public struct Migration: Sendable, Equatable {
    /// The number before the first `_`; migrations apply in this order.
    public var version: Int64
    /// The rest of the file name without `.sql`.
    public var name: String
    /// Path as shown in messages (relative to the repository root).
    public var path: String
    public var sql: String
    /// Hex SHA-256 of the file's bytes: an applied migration must never change.
    public var checksum: String

    /// `0001_create_greetings`, the way files and messages name it.
    public var identifier: String { "\(String(format: "%04lld", version))_\(name)" }

    public init(version: Int64, name: String, path: String, sql: String) {
        self.version = version
        self.name = name
        self.path = path
        self.sql = sql
        self.checksum = SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Every `NNNN_name.sql` in `directory`, sorted by version. A missing directory has none.
    /// Throws on a file that looks like a migration but is misnamed, and on duplicate versions.
    public static func load(from directory: String, displayPath: String) throws -> [Migration] {
        let fileManager = FileManager.default
        guard fileManager.fileExists(atPath: directory) else { return [] }
        let names = try fileManager.contentsOfDirectory(atPath: directory).sorted()
        var migrations: [Migration] = []
        var seen: [Int64: String] = [:]
        for fileName in names where fileName.hasSuffix(".sql") {
            let shownPath = "\(displayPath)/\(fileName)"
            guard let match = fileName.wholeMatch(of: /(\d+)_([A-Za-z0-9_\-]+)\.sql/), let version = Int64(match.1) else {
                throw DevctlFailure(
                    "\(shownPath): not a migration file name",
                    hint: "name migrations NNNN_description.sql, e.g. 0002_add_index.sql",
                    exitCode: 2
                )
            }
            if let other = seen[version] {
                throw DevctlFailure(
                    "\(shownPath): version \(version) is also used by \(displayPath)/\(other)",
                    hint: "give each migration its own version number",
                    exitCode: 2
                )
            }
            seen[version] = fileName
            guard let data = fileManager.contents(atPath: "\(directory)/\(fileName)") else {
                throw DevctlFailure("\(shownPath): cannot read the file")
            }
            migrations.append(Migration(version: version, name: String(match.2), path: shownPath,
                                        sql: String(decoding: data, as: UTF8.self)))
        }
        return migrations.sorted { $0.version < $1.version }
    }
}
