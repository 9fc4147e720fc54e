import Foundation

enum ErrorPage {
    static func render(status: Int, message: String) -> String {
        HTML.page(title: "muster · \(status)", header: "<h1>\(status)</h1>", body: "<p class=\"error\">\(HTML.escape(message))</p><p><a href=\"/\">All runs</a></p>")
    }
}
