import Foundation
import Hummingbird

/// `/`, `/runs/RUN`, `/runs/RUN/tasks/TASK`, their `/api/…` twins, and the assets.
struct PageRoutes {
    let reader: BoardReader
    let policy: AccessPolicy
    let snapshots: BoardSnapshots

    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in Responses.html(RunsPage.render(try await reader.runs())) }
        router.get("/api/runs") { _, _ in try Responses.json(try await reader.runs()) }
        // The board and its twin come from the run's shared snapshot (see BoardSnapshots).
        router.get("/runs/:run") { request, context in
            guard let snapshot = try await snapshots.current(try Self.id(context, "run")) else { return Self.notFound(request, "run") }
            if Self.wantsAll(request) {
                return Responses.html(BoardPage.render(snapshot.board, control: policy.controlForm, all: true))
            }
            return Responses.html(BoardPage.page(snapshot.board, live: snapshot.live))
        }
        router.get("/api/runs/:run") { request, context in
            guard let snapshot = try await snapshots.current(try Self.id(context, "run")) else { return Self.notFound(request, "run") }
            return try Responses.json(snapshot.board)
        }
        router.get("/runs/:run/tasks/:task") { request, context in
            guard let detail = try await reader.task(run: try Self.id(context, "run"), task: try Self.id(context, "task")) else {
                return Self.notFound(request, "run or task")
            }
            return Responses.html(TaskPage.render(detail, control: policy.controlForm))
        }
        router.get("/api/runs/:run/tasks/:task") { request, context in
            guard let detail = try await reader.task(run: try Self.id(context, "run"), task: try Self.id(context, "task")) else {
                return Self.notFound(request, "run or task")
            }
            return try Responses.json(detail)
        }
        router.get("/assets/board.js") { _, _ in
            Responses.text(Assets.script, contentType: "text/javascript; charset=utf-8", cache: "max-age=300")
        }
        router.get("/assets/board.css") { _, _ in
            Responses.text(Assets.stylesheet, contentType: "text/css; charset=utf-8", cache: "max-age=300")
        }
    }

    /// A path parameter, percent-decoded. Ids are only ever looked up in the Store: one it does not
    /// know (`..`, `a/../../b`, a NUL) is a 404, never a path on disk.
    static func id(_ context: BasicRequestContext, _ name: String) throws -> String {
        guard let raw = context.parameters.get(name), raw.utf8.count <= 1024, let id = raw.removingPercentEncoding,
              !id.isEmpty, !id.contains("\0") else {
            throw HTTPError(.notFound, message: "no such \(name)")
        }
        return id
    }

    /// `?all=1`: every task row, no group collapsed.
    static func wantsAll(_ request: Request) -> Bool { request.uri.queryParameters["all"].map { $0 == "1" } ?? false }

    static func notFound(_ request: Request, _ what: String) -> Response {
        Responses.error(.notFound, "no such \(what) in this store (see /)", for: request)
    }
}
