/// What `devctl new service` was asked for.
public struct ScaffoldRequest: Sendable {
    public var name: String
    public var template: String
    public var port: Int?
    public var database: Bool
    /// nil: the template's default (exposed for Swift RPC/REST templates).
    public var expose: Bool?
    public var dependsOn: [String]
    /// Template variables given on the command line (`--set key=value`).
    public var variables: [String: String]

    public init(name: String, template: String = "swift-rpc", port: Int? = nil, database: Bool = true, expose: Bool? = nil,
                dependsOn: [String] = [], variables: [String: String] = [:]) {
        self.name = name
        self.template = template
        self.port = port
        self.database = database
        self.expose = expose
        self.dependsOn = dependsOn
        self.variables = variables
    }
}

/// Everything `new service` will do, computed and validated before anything is written.
public struct ScaffoldPlan: Sendable, Encodable {
    public struct FileChange: Sendable, Encodable {
        public var path: String
        /// `create` or `update`.
        public var action: String
        public var content: String

        enum CodingKeys: String, CodingKey { case path, action }
    }

    public var service: String
    public var template: String
    public var port: Int
    public var database: String?
    public var exposedAt: String?
    public var files: [FileChange]
    public var postSteps: [String]
}
