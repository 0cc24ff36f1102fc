import Testing
@testable import Telemetry

/// The `OTEL_*` checks that stand between a user's environment and swift-otel (which stops the
/// process on several values it accepts).
@Suite struct TelemetrySettingsTests {
    @Test func unsetOrEmptyEndpointTurnsTracingOff() throws {
        #expect(try TelemetrySettings.from(environment: [:], serviceName: "greeter") == nil)
        #expect(try TelemetrySettings.from(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": ""], serviceName: "greeter") == nil)
        #expect(try TelemetrySettings.from(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "  "], serviceName: "greeter") == nil)
    }

    @Test func disabledSDKOrNoneExporterTurnsTracingOff() throws {
        let endpoint = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"]
        #expect(try TelemetrySettings.from(environment: endpoint.merging(["OTEL_SDK_DISABLED": "true"]) { $1 }, serviceName: "a") == nil)
        #expect(try TelemetrySettings.from(environment: endpoint.merging(["OTEL_TRACES_EXPORTER": "none"]) { $1 }, serviceName: "a") == nil)
    }

    @Test func endpointAndServiceName() throws {
        let settings = try TelemetrySettings.from(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"], serviceName: "greeter")
        #expect(settings == TelemetrySettings(endpoint: "http://127.0.0.1:4318", serviceName: "greeter"))
        let named = try TelemetrySettings.from(environment: ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://tempo:4318/v1/traces", "OTEL_SERVICE_NAME": "front"],
                                               serviceName: "greeter")
        #expect(named == TelemetrySettings(endpoint: "https://tempo:4318/v1/traces", serviceName: "front"))
    }

    /// Each value swift-otel would crash on, or that cannot work, is refused with the variable's name.
    @Test(arguments: [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
        ("OTEL_PROPAGATORS", "tracecontext,baggage"),
        ("OTEL_PROPAGATORS", "b3"),
        ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
        ("OTEL_TRACES_SAMPLER", "xray"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_SDK_DISABLED", "yes"),
        ("OTEL_BSP_SCHEDULE_DELAY", "soon"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
    ])
    func refusesWhatTheSDKCannotRun(variable: String, value: String) {
        let environment = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", variable: value]
        #expect(throws: TelemetrySettings.Invalid.self) { try TelemetrySettings.from(environment: environment, serviceName: "greeter") }
        do {
            _ = try TelemetrySettings.from(environment: environment, serviceName: "greeter")
        } catch {
            #expect(error.variable == variable)
            // The offending value (of a list, the item that is not supported).
            #expect(error.description.contains(value.split(separator: ",").last.map(String.init) ?? value))
        }
    }

    @Test func samplerRatioIsChecked() {
        let base = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio"]
        #expect(throws: TelemetrySettings.Invalid.self) { try TelemetrySettings.from(environment: base.merging(["OTEL_TRACES_SAMPLER_ARG": "1.5"]) { $1 }, serviceName: "a") }
        #expect(throws: Never.self) { try TelemetrySettings.from(environment: base.merging(["OTEL_TRACES_SAMPLER_ARG": "0.25"]) { $1 }, serviceName: "a") }
    }

    @Test(arguments: ["127.0.0.1:4318", "ftp://host", "http://", "http://user@host:4318", "http://host:99999", "http://host:port"])
    func refusesEndpointsThatAreNotHTTPURLs(endpoint: String) {
        #expect(throws: TelemetrySettings.Invalid.self) {
            try TelemetrySettings.from(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": endpoint], serviceName: "a")
        }
    }

    /// Credentials in the endpoint are refused without being repeated in the message (it is logged).
    @Test func credentialsInTheEndpointAreNeverEchoed() {
        do {
            _ = try TelemetrySettings.from(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "https://user:s3cr3t-key@collector:4318"], serviceName: "a")
            Issue.record("accepted")
        } catch {
            #expect(!error.description.contains("s3cr3t-key"))
            #expect(error.description.contains("OTEL_EXPORTER_OTLP_HEADERS"))
        }
    }

    @Test(arguments: ["http://127.0.0.1:4318", "https://tempo.monitoring.svc:4318/", "http://[::1]:4318", "http://collector"])
    func acceptsHTTPURLs(endpoint: String) throws {
        #expect(try TelemetrySettings.from(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": endpoint], serviceName: "a")?.endpoint == endpoint)
    }
}
