import Foundation
import Hummingbird
import HummingbirdTesting
import MusterCore
import MusterStore
import Testing
@testable import MusterWeb

@Suite struct WebSecurityTests {
    /// A task whose id and output carry markup: every page and stream shows it as text.
    @Test func scriptInATasksIdAndOutputIsEscapedEverywhere() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        let id = encoded(WebFixture.evil)
        let server = try fixture.server(WebOptions(token: String(repeating: "t", count: 20), allowControl: true))
        try await server.testApplication.test(.router) { client in
            let auth: HTTPFields = [.authorization: "Bearer " + String(repeating: "t", count: 20)]
            for uri in ["/", "/runs/web-run", "/runs/web-run/tasks/\(id)"] {
                try await client.execute(uri: uri, method: .get, headers: auth) { response in
                    #expect(response.status == .ok, "\(uri)")
                    let body = String(buffer: response.body)
                    #expect(!body.contains("<script>alert"), "\(uri) carries the markup unescaped")
                    #expect(!body.contains("<img src=x"), "\(uri)")
                    // Only the page's own script tag.
                    #expect(body.components(separatedBy: "<script").count == 2, "\(uri)")
                }
            }
            try await client.execute(uri: "/runs/web-run/tasks/\(id)", method: .get, headers: auth) { response in
                let body = String(buffer: response.body)
                #expect(body.contains("&lt;script&gt;alert(&#39;output&#39;)&lt;/script&gt;"))
                #expect(body.contains("&lt;script&gt;alert(&#39;id&#39;)&lt;/script&gt;"))
                #expect(body.contains("/runs/web-run/tasks/%3Cscript%3Ealert%28%27id%27%29%3C%2Fscript%3E"))
            }
        }
        // The live fragments the streams push go through the same escaping.
        let board = try #require(try await server.reader.board(run: WebFixture.run))
        let live = BoardPage.live(board, control: server.policy.controlForm)
        #expect(!live.contains("<script"))
        let detail = try #require(try await server.reader.task(run: WebFixture.run, task: WebFixture.evil))
        #expect(!TaskPage.live(detail, control: nil).contains("<script"))
    }

    @Test func theEscaperCoversEveryMarkupCharacter() {
        #expect(HTML.escape(#"<a href="x" onclick='y'>&</a>"#) == "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;")
        #expect(HTML.path("../a b/\"") == "..%2Fa%20b%2F%22")
        #expect(HTML.path("..") == "%2E%2E")
    }

    @Test func withATokenEveryRequestNeedsIt() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        let token = "s3cret-token-0123456789"
        let server = try fixture.server(WebOptions(token: token))
        let login = try #require(server.policy.loginPath)
        try await server.testApplication.test(.router) { client in
            for uri in ["/", "/api/runs", "/runs/web-run", "/metrics", "/runs/web-run/stream"] {
                try await client.execute(uri: uri, method: .get) { #expect($0.status == .unauthorized, "\(uri)") }
                try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer wrong-token-0123456789"]) {
                    #expect($0.status == .unauthorized, "\(uri)")
                }
            }
            try await client.execute(uri: "/api/runs", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                #expect($0.status == .ok)
            }
            // The one-time link sets the session cookie once.
            let cookie = try await client.execute(uri: login, method: .get) { response in
                #expect(response.status == .seeOther)
                let setCookie = try #require(response.headers[.setCookie])
                #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
                #expect(!setCookie.contains(token), "the cookie is a session secret, not the token")
                return String(setCookie.split(separator: ";")[0])
            }
            try await client.execute(uri: login, method: .get) { #expect($0.status == .unauthorized, "a spent link") }
            try await client.execute(uri: "/runs/web-run", method: .get, headers: [.cookie: cookie]) { #expect($0.status == .ok) }
            try await client.execute(uri: "/runs/web-run", method: .get, headers: [.cookie: "muster_session=guess"]) {
                #expect($0.status == .unauthorized)
            }
            // The login form takes the token.
            try await client.execute(uri: "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                     body: ByteBuffer(string: "token=\(token)")) { #expect($0.status == .seeOther) }
            try await client.execute(uri: "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                     body: ByteBuffer(string: "token=nope")) { #expect($0.status == .unauthorized) }
        }
    }

    @Test func readOnlyUnlessAllowControl() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        let token = "s3cret-token-0123456789"
        try await fixture.server(WebOptions(token: token)).testApplication.test(.router) { client in
            try await client.execute(uri: "/runs/web-run/cancel", method: .post, headers: [.authorization: "Bearer \(token)"]) {
                #expect($0.status == .notFound || $0.status == .methodNotAllowed)
            }
            try await client.execute(uri: "/runs/web-run", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                #expect(!String(buffer: $0.body).contains("<form class=\"control\""))
            }
        }
        #expect(try await fixture.store.run(WebFixture.run)?.cancelRequested == false)
    }

    @Test func controlNeedsTheCSRFTokenFromACookieSession() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        let token = "s3cret-token-0123456789"
        let server = try fixture.server(WebOptions(token: token, allowControl: true))
        let login = try #require(server.policy.loginPath)
        try await server.testApplication.test(.router) { client in
            let cookie = try await client.execute(uri: login, method: .get) { String($0.headers[.setCookie]!.split(separator: ";")[0]) }
            let page = try await client.execute(uri: "/runs/web-run", method: .get, headers: [.cookie: cookie]) { String(buffer: $0.body) }
            #expect(page.contains("action=\"/runs/web-run/cancel\""))
            let form: HTTPFields = [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"]
            try await client.execute(uri: "/runs/web-run/cancel", method: .post, headers: form, body: ByteBuffer(string: "csrf=forged")) {
                #expect($0.status == .forbidden)
            }
            var crossSite = form
            crossSite[.origin] = "http://evil.example"
            try await client.execute(uri: "/runs/web-run/cancel", method: .post, headers: crossSite,
                                     body: ByteBuffer(string: "csrf=\(server.policy.csrf)")) { #expect($0.status == .forbidden) }
            #expect(try await fixture.store.run(WebFixture.run)?.cancelRequested == false)
            #expect(page.contains("value=\"\(server.policy.csrf)\""))
            try await client.execute(uri: "/runs/web-run/cancel", method: .post, headers: form,
                                     body: ByteBuffer(string: "csrf=\(server.policy.csrf)")) {
                #expect($0.status == .seeOther)
                #expect($0.headers[.location] == "/runs/web-run")
            }
        }
        #expect(try await fixture.store.run(WebFixture.run)?.cancelRequested == true)
    }

    @Test func retryReopensFailedTasksThroughTheStore() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        try await fixture.finish("build", .failed(retryAt: nil))
        #expect(try await fixture.store.task(run: WebFixture.run, id: "build")?.state == .failed)
        let token = "s3cret-token-0123456789"
        try await fixture.server(WebOptions(token: token, allowControl: true)).testApplication.test(.router) { client in
            try await client.execute(uri: "/runs/web-run/retry", method: .post, headers: [.authorization: "Bearer \(token)"]) {
                #expect($0.status == .seeOther)
            }
        }
        #expect(try await fixture.store.task(run: WebFixture.run, id: "build")?.state == .ready)
    }

    @Test(arguments: [
        (WebOptions(bind: "0.0.0.0"), "--token"),
        (WebOptions(bind: "192.168.1.20"), "--token"),
        (WebOptions(allowControl: true), "--allow-control needs --token"),
        (WebOptions(token: "short"), "at least 16"),
        (WebOptions(port: 70000), "--port"),
        (WebOptions(bind: "0.0.0.0; rm -rf /", token: String(repeating: "x", count: 16)), "--bind"),
    ])
    func exposingTheBoardIsRefused(options: WebOptions, message: String) throws {
        #expect { try options.validate() } throws: { "\($0)".contains(message) }
    }

    @Test func nonLoopbackWithATokenAndLoopbackWithoutOneAreAccepted() throws {
        try WebOptions(bind: "0.0.0.0", token: String(repeating: "x", count: 16)).validate()
        try WebOptions().validate()
        #expect(AccessPolicy.isLoopbackHost("127.0.0.1:7777") && AccessPolicy.isLoopbackHost("localhost")
                && AccessPolicy.isLoopbackHost("[::1]:80"))
        #expect(!AccessPolicy.isLoopbackHost("evil.example:7777") && !AccessPolicy.isLoopbackHost("127.0.0.1.evil.example"))
    }
}
