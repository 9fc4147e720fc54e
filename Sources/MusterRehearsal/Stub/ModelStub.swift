import Foundation

/// muster's model stub: the Anthropic Messages API and OpenAI chat completions on 127.0.0.1,
/// answering from a script. Agents are pointed at `baseURL` (anonymous) or at
/// `url(for: register(...))` (one conversation per task, so the stub knows its folder and owns).
public final class ModelStub: Sendable {
    let server: StubServer
    let book: ConversationBook
    public let script: StubScript

    public var port: Int { server.port }
    public var baseURL: String { "http://127.0.0.1:\(server.port)" }

    /// Listens on 127.0.0.1:`port` (0: any free port; `port` tells which).
    public static func start(port: Int = 0, script: StubScript = StubScript(),
                             logPath: String? = ProcessInfo.processInfo.environment["MUSTER_STUB_LOG"]) async throws -> ModelStub {
        guard (0...65535).contains(port) else { throw ModelStubError.bind("port \(port) is not between 0 and 65535") }
        let book = ConversationBook()
        let router = StubRouter(book: book, script: script, logPath: logPath)
        do {
            let server = try await StubServer.start(port: port, router: router)
            return ModelStub(server: server, book: book, script: script)
        } catch let error as ModelStubError {
            throw error
        } catch {
            throw ModelStubError.bind("port \(port): \(error)")
        }
    }

    init(server: StubServer, book: ConversationBook, script: StubScript) {
        self.server = server
        self.book = book
        self.script = script
    }

    /// Registers a conversation under `key` (letters, digits, `-`, `_`, `.`); returns the base URL
    /// its agent should use.
    @discardableResult
    public func register(_ key: String, _ conversation: StubConversation) -> String {
        let safe = String(key.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
        book.register(safe, conversation)
        return url(for: safe)
    }

    public func url(for key: String) -> String { baseURL + "/c/" + key }

    /// What the stub did, per conversation key ("" for requests without one).
    public func ledger() -> [String: StubLedgerEntry] { book.ledger() }

    public func stop() async { await server.stop() }

    public func waitUntilClosed() async { await server.waitUntilClosed() }
}
