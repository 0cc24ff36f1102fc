import ArgumentParser
import DevctlCore
import Foundation
import Services
import Stack
import Telemetry

/// `devctl traces [TRACE_ID]`: the running stack's recent traces, or one as a waterfall.
struct TracesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traces",
        abstract: "List recent traces, or show one as a waterfall.",
        discussion: """
            Reads devctl's own trace receiver, which `up` runs and points the services at (unless
            OTEL_EXPORTER_OTLP_ENDPOINT was set). TRACE_ID is a trace id as the edge's X-Request-Id
            header, its access log or any service log line (trace_id) shows it; a unique prefix of
            8 or more digits, or a whole traceparent, works too.
            Exit status: 0 shown, 1 no stack or no such trace, 2 bad arguments.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A trace to show as a waterfall (omit to list recent traces).")
    var traceID: String?

    @Option(name: .long, help: ArgumentHelp("Only traces with a span from this service.", valueName: "name"))
    var service: String?

    @Option(name: .customLong("min-duration"), help: ArgumentHelp("Only traces at least this long (250ms, 1.5s).", valueName: "duration"))
    var minDuration: String?

    @Flag(name: .long, help: "Only traces with a failed span.")
    var errors = false

    @Option(name: .long, help: ArgumentHelp("Only traces from the last … (30s, 5m, 1h).", valueName: "duration"))
    var since: String?

    @Option(name: .long, help: ArgumentHelp("At most this many traces (newest first).", valueName: "n"))
    var limit = 20

    func validate() throws {
        if let minDuration, ServiceSettings.parseDuration(minDuration) == nil {
            throw ValidationError("--min-duration \"\(minDuration)\" is not a duration (250ms, 1.5s, 2m)")
        }
        if let since, ServiceSettings.parseDuration(since) == nil {
            throw ValidationError("--since \"\(since)\" is not a duration (30s, 5m, 1h)")
        }
        guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        if traceID != nil, service != nil || minDuration != nil || errors || since != nil {
            throw ValidationError("filters (--service, --min-duration, --errors, --since) apply to the list; give either a trace id or filters")
        }
    }

    func run() async throws {
        // Failures are reported by main (stderr, and {"error": …} with --json).
        let repository = try global.repository()
        let controller = StackController(config: repository.config, repositoryRoot: repository.root)
        let query = try TraceQuery(state: controller.currentState(), running: controller.isSupervisorRunning)
        if let traceID {
            let detail = try await query.trace(traceID)
            if global.json { try Console.printJSON(detail) } else { print(TraceRendering.waterfall(detail.spans), terminator: "") }
            return
        }
        var filter = TraceFilter(service: service, errorsOnly: errors, limit: limit)
        if let minimum = minDuration.flatMap(ServiceSettings.parseDuration) {
            filter.minimumDurationNanos = OTLPReceiver.nanoseconds(Double(minimum.components.seconds) * 1e9 + Double(minimum.components.attoseconds) / 1e9)
        }
        if let window = since.flatMap(ServiceSettings.parseDuration) {
            let windowNanos = Double(window.components.seconds) * 1e9 + Double(window.components.attoseconds) / 1e9
            filter.sinceUnixNano = OTLPReceiver.nanoseconds(Date().timeIntervalSince1970 * 1e9 - windowNanos)
        }
        let list = try await query.list(filter)
        if global.json { try Console.printJSON(list) } else { print(TraceRendering.table(list.traces), terminator: "") }
    }
}
