/// What a service's tracing should be, read from the standard `OTEL_*` variables and checked
/// before the SDK sees them: swift-otel stops the process (`fatalError`) on several values it
/// accepts as configuration (the gRPC protocol without its trait, the `baggage`, `b3`, `jaeger`
/// propagators, the Jaeger and X-Ray samplers), and an *empty* endpoint does not disable it.
/// Here those are refused with a message naming the variable, and empty means off.
public struct TelemetrySettings: Sendable, Equatable {
    /// Where spans go: the OTLP/HTTP base endpoint (`…/v1/traces` is appended) or, from
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, the full URL.
    public var endpoint: String
    /// `OTEL_SERVICE_NAME`, or the service's own name.
    public var serviceName: String

    /// The variables this validates (the rest of `OTEL_*` the SDK reads as it would).
    public static let endpointVariables = ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"]

    /// A value that would crash the SDK or cannot work; the message says which and what to use.
    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public var variable: String
        public var message: String
        public var description: String { "\(variable): \(message)" }
    }

    /// `nil` when tracing is off: no endpoint (unset or empty), `OTEL_SDK_DISABLED=true`, or
    /// `OTEL_TRACES_EXPORTER=none`. Throws ``Invalid`` for a value the SDK cannot run with.
    public static func from(environment: [String: String], serviceName: String) throws(Invalid) -> TelemetrySettings? {
        func value(_ name: String) -> String? {
            guard let text = environment[name]?.trimmingWhitespace, !text.isEmpty else { return nil }
            return text
        }
        if let disabled = value("OTEL_SDK_DISABLED") {
            switch disabled.lowercased() {
            case "true": return nil
            case "false": break
            default: throw Invalid(variable: "OTEL_SDK_DISABLED", message: "must be true or false, got \"\(disabled)\"")
            }
        }
        if let exporter = value("OTEL_TRACES_EXPORTER") {
            switch exporter.lowercased() {
            case "none": return nil
            case "otlp": break
            default: throw Invalid(variable: "OTEL_TRACES_EXPORTER", message: "\"\(exporter)\" is not supported; use otlp (or none to turn tracing off)")
            }
        }
        let endpointVariable = endpointVariables.first { value($0) != nil }
        guard let endpointVariable, let endpoint = value(endpointVariable) else { return nil }
        if hasUserInfo(endpoint) {
            // Never echoed: the part before '@' is a credential.
            throw Invalid(variable: endpointVariable, message: "holds credentials (user:password@); put them in OTEL_EXPORTER_OTLP_HEADERS (e.g. Authorization=Basic …) instead")
        }
        guard isHTTPURL(endpoint) else {
            throw Invalid(variable: endpointVariable, message: "\"\(endpoint)\" is not an http:// or https:// URL with a host (e.g. http://127.0.0.1:4318)")
        }
        for name in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
            guard let proto = value(name) else { continue }
            guard proto == "http/protobuf" else {
                throw Invalid(variable: name, message: "\"\(proto)\" is not supported; only http/protobuf is built in (grpc is left out of the build; http/json sends ids OTLP receivers misread)")
            }
            break
        }
        if let propagators = value("OTEL_PROPAGATORS") {
            for propagator in propagators.split(separator: ",").map({ $0.trimmingWhitespace.lowercased() }) where !["tracecontext", "none"].contains(propagator) {
                throw Invalid(variable: "OTEL_PROPAGATORS", message: "\"\(propagator)\" is not supported; use tracecontext (W3C traceparent) or none")
            }
        }
        let ratioSamplers = ["traceidratio", "parentbased_traceidratio"]
        if let sampler = value("OTEL_TRACES_SAMPLER") {
            let supported = ["always_on", "always_off", "parentbased_always_on", "parentbased_always_off"] + ratioSamplers
            guard supported.contains(sampler.lowercased()) else {
                throw Invalid(variable: "OTEL_TRACES_SAMPLER", message: "\"\(sampler)\" is not supported; use one of \(supported.joined(separator: ", "))")
            }
            if ratioSamplers.contains(sampler.lowercased()), let argument = value("OTEL_TRACES_SAMPLER_ARG") {
                guard let ratio = Double(argument), (0...1).contains(ratio) else {
                    throw Invalid(variable: "OTEL_TRACES_SAMPLER_ARG", message: "must be a ratio from 0 to 1, got \"\(argument)\"")
                }
            }
        }
        for name in ["OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] {
            guard let text = value(name) else { continue }
            guard let number = Int(text), number > 0 else {
                throw Invalid(variable: name, message: "must be a positive whole number, got \"\(text)\"")
            }
        }
        return TelemetrySettings(endpoint: endpoint, serviceName: value("OTEL_SERVICE_NAME") ?? serviceName)
    }

    /// `scheme://user[:password]@host…`.
    static func hasUserInfo(_ text: String) -> Bool {
        guard let schemeEnd = text.range(of: "://") else { return false }
        let authority = text[schemeEnd.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return authority.contains("@")
    }

    /// `http(s)://host[:port][/path]`, checked without Foundation's lenient URL parser.
    static func isHTTPURL(_ text: String) -> Bool {
        let lowered = text.lowercased()
        guard let scheme = ["http://", "https://"].first(where: lowered.hasPrefix) else { return false }
        let rest = lowered.dropFirst(scheme.count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !authority.contains("@"), !authority.contains(where: \.isWhitespace) else { return false }
        // A port, when written, is a number from 1 to 65535 (a bracketed IPv6 host has colons).
        let host = authority.hasPrefix("[") ? String(authority.prefix { $0 != "]" } + "]") : String(authority.prefix { $0 != ":" })
        let portText = authority.dropFirst(host.count)
        if portText.isEmpty { return host != "[]" && !host.isEmpty }
        guard portText.first == ":", let port = Int(portText.dropFirst()), (1...65535).contains(port) else { return false }
        return true
    }
}

extension StringProtocol {
    var trimmingWhitespace: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
