import Foundation
import Hummingbird

/// Building responses: HTML, JSON (the `/api` twins), plain text, and errors in the form the caller asked for.
enum Responses {
    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func json(_ value: some Encodable) throws -> Response {
        let data = try encoder.encode(value)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func text(_ text: String, contentType: String, status: HTTPResponse.Status = .ok, cache: String? = nil) -> Response {
        var headers: HTTPFields = [.contentType: contentType]
        if let cache { headers[.cacheControl] = cache }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    struct APIError: Encodable { var error: String }

    /// JSON for `/api/…` and `/metrics`-style callers, an HTML page for a browser.
    static func error(_ status: HTTPResponse.Status, _ message: String, for request: Request) -> Response {
        let path = request.uri.path
        if path.hasPrefix("/api/") {
            let data = (try? encoder.encode(APIError(error: message))) ?? Data()
            return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        if path == "/metrics" || path.hasSuffix("/stream") {
            return text(message + "\n", contentType: "text/plain; charset=utf-8", status: status)
        }
        return html(ErrorPage.render(status: Int(status.code), message: message), status: status)
    }
}
