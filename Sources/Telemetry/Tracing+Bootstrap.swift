import ConnectRPC
import Foundation
import Logging
import NIOConcurrencyHelpers
import Synchronization
import OTel
import ServiceLifecycle
import Tracing

/// Turns tracing on for this process: swift-otel's tracer (OTLP over HTTP/protobuf, batched)
/// bootstrapped as the process's `InstrumentationSystem`. Services call it once, before any HTTP
/// client exists (AsyncHTTPClient reads the tracer when its configuration is made), and run the
/// returned service first in their service group, so that it stops last and flushes what is
/// queued on a graceful shutdown.
public enum TracingBootstrap {
    private static let started = Atomic<Bool>(false)

    /// Whether ``start(_:logger:)`` ran in this process (spans are then recorded and exported);
    /// read on every request and query, so an atomic load, not a lock.
    public static var isEnabled: Bool { started.load(ordering: .relaxed) }

    /// Log metadata with the current span's `trace_id` and `span_id` (nothing outside a span);
    /// in an unsampled trace (no spans: ``UnsampledTrace``) its trace id and the caller's span id.
    public static let loggingMetadataProvider: Logger.MetadataProvider = {
        let spans = OTel.makeLoggingMetadataProvider()
        return Logger.MetadataProvider {
            if let unsampled = UnsampledTrace.current {
                return ["trace_id": .string(String(unsampled.traceID)), "span_id": .string(String(unsampled.parentSpanID))]
            }
            return spans.get()
        }
    }()

    /// Bootstraps the tracer; returns the exporter's service. The SDK's own diagnostics go to
    /// `logger`, each distinct message once (an unreachable receiver is one warning, not one per
    /// batch every five seconds).
    public static func start(_ settings: TelemetrySettings, environment: [String: String] = [:], logger: Logger) throws -> any Service {
        // swift-otel reads the process environment; `devctl serve` checked the environment with
        // devctl.yaml's values under it, so those OTEL_* values are what the SDK must see too.
        // (Start-up, before any request: nothing else reads the environment concurrently.)
        for (name, value) in environment where name.hasPrefix("OTEL_") && ProcessInfo.processInfo.environment[name] != value {
            setenv(name, value, 1)
        }
        var configuration = OTel.Configuration.default
        configuration.serviceName = settings.serviceName
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        configuration.traces.enabled = true
        configuration.diagnosticLogger = .custom(Logger(label: "otel") { _ in OncePerMessageLogHandler(wrapping: logger, endpoint: settings.endpoint) })
        configuration.diagnosticLogLevel = .warning
        let (tracer, service) = try OTel.makeTracingBackend(configuration: configuration)
        guard started.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            throw AlreadyStarted()
        }
        InstrumentationSystem.bootstrap(tracer)
        return service
    }

    struct AlreadyStarted: Error, CustomStringConvertible {
        var description: String { "tracing was already started in this process" }
    }
}

/// Passes each distinct message on once for the life of the process, the first time with a note
/// that repeats are not logged: the SDK reports every failed batch and every malformed incoming
/// `traceparent`, which would otherwise flood the service's log while the cause persists.
struct OncePerMessageLogHandler: LogHandler {
    private let target: Logger
    private let endpoint: String
    private let seen = NIOLockedValueBox<Set<String>>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .warning

    init(wrapping target: Logger, endpoint: String) {
        self.target = target
        self.endpoint = endpoint
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let text = event.message.description
        let first = seen.withLockedValue { $0.count < 256 && $0.insert(text).inserted }
        guard first else { return }
        var merged = metadata.merging(event.metadata ?? [:]) { $1 }
        // The SDK names a malformed variable's value here: OTEL_EXPORTER_OTLP_HEADERS holds keys.
        merged["environment_value"] = nil
        merged["component"] = "tracing"
        merged["endpoint"] = "\(endpoint)"
        merged["repeats"] = "not logged"
        // What it means for the user: the service is fine, its spans are not.
        let consequence = text.contains("export") ? " Spans are dropped while the endpoint does not answer (OTEL_EXPORTER_OTLP_ENDPOINT); requests are served as usual." : ""
        target.log(level: event.level, "tracing: \(text)\(consequence)", metadata: merged)
    }
}
