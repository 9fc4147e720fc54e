import Foundation
import Hummingbird

/// Checks every request against the `AccessPolicy` and adds the security headers to every response.
struct AccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: AccessPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await check(request, context: context, next: next)
        } catch let error as HTTPError {
            response = Responses.error(error.status, error.body ?? "\(error.status.code)", for: request)
        }
        SecurityHeaders.apply(&response.headers)
        return response
    }

    func check(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if policy.token == nil {
            // Loopback without a token: only requests that name a loopback host (DNS rebinding).
            guard let host = request.head.authority, AccessPolicy.isLoopbackHost(host) else {
                return Responses.error(.forbidden, "this board answers only to localhost, 127.0.0.1 or [::1]", for: request)
            }
            return try await next(request, context)
        }
        let path = request.uri.path
        if path == "/login" || path.hasPrefix("/assets/") { return try await next(request, context) }
        guard authenticated(request) != nil else {
            return Responses.error(.unauthorized, "this board needs its token: open the login link `muster serve` printed, "
                                   + "or send `Authorization: Bearer TOKEN`", for: request)
        }
        return try await next(request, context)
    }

    /// How the request proved it knows the token, nil when it did not.
    func authenticated(_ request: Request) -> Credential? { Self.credential(request, policy: policy) }

    enum Credential { case header, cookie }

    static func credential(_ request: Request, policy: AccessPolicy) -> Credential? {
        if let value = request.headers[.authorization], value.hasPrefix("Bearer "),
           policy.acceptsToken(String(value.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)) {
            return .header
        }
        if let cookie = request.cookies[AccessPolicy.cookie], policy.acceptsSession(cookie.value) { return .cookie }
        return nil
    }
}

enum SecurityHeaders {
    /// No inline script or style, nothing from elsewhere, no framing, no referrer.
    static let policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static func apply(_ headers: inout HTTPFields) {
        headers[.contentSecurityPolicy] = policy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.init("Referrer-Policy")!] = "no-referrer"
        headers[.init("X-Frame-Options")!] = "DENY"
        if headers[.cacheControl] == nil { headers[.cacheControl] = "no-store" }
    }
}
