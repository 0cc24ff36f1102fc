import ConnectRPC
import NIOConcurrencyHelpers
import Tracing

/// A client span per database call (postgres-nio makes none): `db.system`, the database's name
/// and the statement as written — with its `$1` placeholders, never the values bound to them.
public enum DatabaseSpans {
    /// Runs `body` inside a span named after the statement (`INSERT greetings`); nothing extra
    /// when tracing is off.
    public static func run<T>(sql: String, database: String, isolation: isolated (any Actor)? = #isolation,
                              _ body: () async throws -> T) async throws -> T {
        guard TracingBootstrap.isEnabled, UnsampledTrace.current == nil else { return try await body() }
        return try await withSpan(cachedSummary(of: sql), ofKind: .client, isolation: isolation) { span in
            // The current semantic conventions' names only (each attribute costs per span).
            span.updateAttributes { attributes in
                attributes["db.system"] = "postgresql"
                attributes["db.namespace"] = database
                attributes["db.query.text"] = sql
            }
            return try await body()
        }
    }

    /// Statements are few and fixed (prepared inserts, a handful of queries): each one's name is
    /// worked out once, not per query (splitting the SQL showed in a traced service's profile).
    private static let summaries = NIOLockedValueBox<[String: String]>([:])

    static func cachedSummary(of sql: String) -> String {
        if let known = summaries.withLockedValue({ $0[sql] }) { return known }
        let summary = summary(of: sql)
        summaries.withLockedValue { cache in
            // Bounded: a service that builds SQL text per call would otherwise grow it forever.
            if cache.count < 1024 { cache[sql] = summary }
        }
        return summary
    }

    /// `OPERATION table` from the statement's first keyword and its target table (`SELECT 1`
    /// when there is none): short enough for a span name, and the same for every execution.
    static func summary(of sql: String) -> String {
        let words = sql.split(whereSeparator: { $0.isWhitespace || $0 == "(" || $0 == "," })
        guard let first = words.first else { return "query" }
        let operation = first.uppercased()
        let marker: String? = switch operation {
        case "INSERT": "INTO"
        case "SELECT", "DELETE": "FROM"
        case "UPDATE": nil
        default: nil
        }
        var table: Substring?
        if operation == "UPDATE", words.count > 1 {
            table = words[1]
        } else if let marker, let index = words.firstIndex(where: { $0.uppercased() == marker }), index + 1 < words.count {
            table = words[index + 1]
        }
        guard let table else { return operation }
        return "\(operation) \(table.trimmingCharacters(in: ["\"", ";"]))"
    }
}

extension Substring {
    func trimmingCharacters(in set: Set<Character>) -> String {
        String(drop(while: set.contains).reversed().drop(while: set.contains).reversed())
    }
}
