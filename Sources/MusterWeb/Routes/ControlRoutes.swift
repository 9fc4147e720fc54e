import Foundation
import Hummingbird
import MusterStore

/// `--allow-control`: cancel a run, put its failed tasks back in line. Through the Store's own calls,
/// as `muster cancel` and `muster resume` make them; a board never writes task state itself.
struct ControlRoutes {
    let reader: BoardReader
    let policy: AccessPolicy
    let snapshots: BoardSnapshots

    func register(on router: Router<BasicRequestContext>) {
        router.post("/runs/:run/cancel") { request, context in
            try await guarded(request, context) { run in
                try await reader.store.requestCancel(run, now: reader.store.clock())
            }
        }
        router.post("/runs/:run/retry") { request, context in
            try await guarded(request, context) { run in
                _ = try await reader.store.reopen(run, now: reader.store.clock())
            }
        }
    }

    func guarded(_ request: Request, _ context: BasicRequestContext, action: (String) async throws -> Void) async throws -> Response {
        guard let credential = AccessMiddleware<BasicRequestContext>.credential(request, policy: policy) else {
            return Responses.error(.unauthorized, "control needs the token", for: request)
        }
        if credential == .cookie {
            // A browser: the form must carry this page's CSRF token and come from this origin.
            var buffered = request
            let body = try await buffered.collectBody(upTo: 16 * 1024)
            let form = Self.form(String(buffer: body))
            guard let csrf = form["csrf"], policy.acceptsCSRF(csrf) else {
                return Responses.error(.forbidden, "the form's CSRF token is missing or stale: reload the page and try again", for: request)
            }
            if let origin = request.headers[.origin], origin != "http://" + (request.head.authority ?? "") {
                return Responses.error(.forbidden, "a control request must come from this board's own page", for: request)
            }
            if let site = request.headers[.init("Sec-Fetch-Site")!], site != "same-origin" && site != "none" {
                return Responses.error(.forbidden, "a control request must come from this board's own page", for: request)
            }
        }
        let run = try PageRoutes.id(context, "run")
        guard try await reader.store.run(run) != nil else { return PageRoutes.notFound(request, "run") }
        try await action(run)
        await snapshots.invalidate(run)  // the page the redirect lands on shows the change
        return Responses.redirect(HTML.runURL(run).replacingOccurrences(of: "&amp;", with: "&"))
    }

    /// `application/x-www-form-urlencoded` fields (the first of each name).
    static func form(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (s: Substring) in s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            let name = decode(parts[0])
            if fields[name] == nil { fields[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return fields
    }
}
