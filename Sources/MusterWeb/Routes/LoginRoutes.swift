import Foundation
import Hummingbird

/// `/login?code=…`: the one-time link `muster serve` prints sets the session cookie and is spent.
/// `/login` without a code shows a form where the token can be pasted (a phone, a second browser).
struct LoginRoutes {
    let policy: AccessPolicy

    func register(on router: Router<BasicRequestContext>) {
        router.get("/login") { request, _ in
            guard policy.token != nil else { return Responses.redirect("/") }
            if let code = request.uri.queryParameters["code"] {
                guard policy.redeem(String(code)) else {
                    return Responses.error(.unauthorized, "this login link was used already: paste the token below instead", for: request)
                }
                return signedIn()
            }
            return Responses.html(HTML.page(title: "muster · sign in", header: "<h1>Sign in</h1>", body: Self.form))
        }
        router.post("/login") { request, _ in
            guard policy.token != nil else { return Responses.redirect("/") }
            var buffered = request
            let body = try await buffered.collectBody(upTo: 16 * 1024)
            guard let token = ControlRoutes.form(String(buffer: body))["token"], policy.acceptsToken(token) else {
                return Responses.error(.unauthorized, "wrong token", for: request)
            }
            return signedIn()
        }
    }

    func signedIn() -> Response {
        var response = Responses.redirect("/")
        response.setCookie(Cookie(name: AccessPolicy.cookie, value: policy.session, path: "/", httpOnly: true, sameSite: .strict))
        return response
    }

    static let form = """
        <form method="post" action="/login" class="control"><label>Token <input type="password" name="token" autocomplete="current-password"></label>
        <button type="submit">Sign in</button></form>
        """
}
