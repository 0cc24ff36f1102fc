import DevctlCore
import PostgresNIO

/// A PostgreSQL error reduced to what a user needs: the server's message, SQLSTATE and position.
struct ServerErrorDetails: Sendable {
    var message: String
    var sqlState: String?
    var position: Int?
    var detail: String?
    var hint: String?

    init?(_ error: any Error) {
        guard let psql = error as? PSQLError, let info = psql.serverInfo, let message = info[.message] else { return nil }
        self.message = message
        sqlState = info[.sqlState]
        position = info[.position].flatMap(Int.init)
        detail = info[.detail]
        hint = info[.hint]
    }
}

/// One line describing any error from postgres-nio (server or connection), without secrets.
public func describePostgresError(_ error: any Error) -> String {
    if let details = ServerErrorDetails(error) {
        var text = details.message
        if let sqlState = details.sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail = details.detail { text += "; \(detail)" }
        return text
    }
    if let psql = error as? PSQLError {
        if psql.code == .sslUnsupported {
            return "the server does not offer TLS, and the URL's sslmode forbids a plaintext connection (use sslmode=prefer or disable to allow one)"
        }
        if let underlying = psql.underlying { return "\(psql.code): \(underlying)" }
        return "\(psql.code)"
    }
    return "\(error)"
}
