import Foundation
@preconcurrency import CCairo

/// A file format a figure can be written in.
public enum OutputFormat: Sendable, Hashable {
    /// A raster image at `dpi` pixels per inch (a 454 pt wide figure at 300 dpi is 1892 px wide),
    /// with the resolution recorded in the PNG's pHYs chunk.
    case png(dpi: Double)
    /// Scalable vector graphics (text as glyph outlines); deterministic bytes.
    case svg
    /// Vector PDF, one page of the figure's size.
    case pdf

    /// The usual file extension: `png`, `svg` or `pdf`.
    public var fileExtension: String {
        switch self {
        case .png: "png"
        case .svg: "svg"
        case .pdf: "pdf"
        }
    }

    /// The format for a file extension (`png` at 300 dpi), or nil.
    public init?(fileExtension: String, dpi: Double = 300) {
        switch fileExtension.lowercased() {
        case "png": self = .png(dpi: dpi)
        case "svg": self = .svg
        case "pdf": self = .pdf
        default: return nil
        }
    }
}

extension Figure {
    /// Draws the figure onto an existing Cairo context, e.g. a page of the PDF report.
    ///
    /// User space must be in points (Cairo's PDF surfaces are). Drawing is clipped to the
    /// figure's rectangle; the context's state is restored afterwards.
    ///
    /// - Parameters:
    ///   - cr: a `cairo_t *`.
    ///   - x: left edge of the figure on the page, in points.
    ///   - y: top edge of the figure on the page, in points.
    /// - Throws: ``PlotError`` for invalid figures or a Cairo error; nothing is drawn then.
    public func draw(into cr: OpaquePointer, x: Double = 0, y: Double = 0) throws {
        try Renderer.draw(self, on: cr, x: x, y: y)
    }

    /// The figure as PNG bytes.
    ///
    /// - Parameter dpi: pixels per inch; the image is ⌈width · dpi / 72⌉ × ⌈height · dpi / 72⌉ pixels.
    /// - Throws: ``PlotError``.
    public func pngData(dpi: Double = 300) throws -> Data {
        try rasterize(dpi: dpi).pngData()
    }

    /// The figure as SVG bytes (identical for identical figures).
    ///
    /// - Throws: ``PlotError``.
    public func svgData() throws -> Data {
        try validate()
        let sink = DataSink()
        let surface = cairo_svg_surface_create_for_stream(writeToSink, Unmanaged.passUnretained(sink).toOpaque(), width, height)!
        cairo_svg_surface_restrict_to_version(surface, CAIRO_SVG_VERSION_1_1)
        try drawAndFinish(surface)
        // Ask viewers not to smooth pixel images (on top of the whole-pixel upscaling).
        let svg = String(decoding: normalizedSVG(sink.data), as: UTF8.self)
            .replacingOccurrences(of: "<image ", with: "<image style=\"image-rendering:optimizeSpeed;image-rendering:pixelated\" ")
        return Data(svg.utf8)
    }

    /// The figure as a one-page vector PDF (no creation date, so identical figures give identical bytes).
    ///
    /// - Throws: ``PlotError``.
    public func pdfData() throws -> Data {
        try validate()
        let sink = DataSink()
        let surface = cairo_pdf_surface_create_for_stream(writeToSink, Unmanaged.passUnretained(sink).toOpaque(), width, height)!
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "FlowOOD")
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATE_DATE, fixedPDFDate)
        try drawAndFinish(surface)
        return sink.data
    }

    /// The figure in `format`.
    ///
    /// - Throws: ``PlotError``.
    public func data(as format: OutputFormat) throws -> Data {
        switch format {
        case .png(let dpi): try pngData(dpi: dpi)
        case .svg: try svgData()
        case .pdf: try pdfData()
        }
    }

    /// Writes the figure to `url` atomically (a temporary file in the same directory, then a
    /// rename), in the format given or else the one named by the file's extension.
    ///
    /// - Parameters:
    ///   - url: the destination; its directory is created if missing.
    ///   - format: the format, or nil to use the extension (`.png` at 300 dpi, `.svg`, `.pdf`).
    /// - Throws: ``PlotError`` for an unknown extension, an invalid figure or an I/O failure.
    public func write(to url: URL, format: OutputFormat? = nil) throws {
        guard let format = format ?? OutputFormat(fileExtension: url.pathExtension) else {
            throw PlotError.write(path: url.path, reason: "unknown extension '\(url.pathExtension)'; use .png, .svg or .pdf")
        }
        try writeAtomically(try data(as: format), to: url)
    }

    /// Writes the figure as `name.png`, `name.svg`, … into `directory`, one file per format.
    ///
    /// - Returns: the files written, in the order of `formats`.
    /// - Throws: ``PlotError``.
    @discardableResult
    public func write(to directory: URL, name: String,
                      formats: [OutputFormat] = [.png(dpi: 300), .svg, .pdf]) throws -> [URL] {
        try formats.map { format in
            let url = directory.appendingPathComponent("\(name).\(format.fileExtension)")
            try write(to: url, format: format)
            return url
        }
    }

    // MARK: - Internals

    /// Renders into an ARGB32 image surface of ⌈size · dpi / 72⌉ pixels plus `border` pixels of
    /// transparent margin on every side (tests use the margin, with `clip` off, to check that
    /// nothing is drawn outside the canvas).
    func rasterize(dpi: Double, border: Int = 0, clip: Bool = true) throws -> Raster {
        try validate()
        guard dpi > 0, dpi.isFinite, dpi <= 2400 else {
            throw PlotError.invalidArgument("PNG resolution \(dpi) dpi must be in (0, 2400]")
        }
        let scale = dpi / 72
        let pixelWidth = Int((width * scale).rounded(.up)) + 2 * border
        let pixelHeight = Int((height * scale).rounded(.up)) + 2 * border
        let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(pixelWidth), Int32(pixelHeight))!
        let cr = cairo_create(surface)!
        defer { cairo_destroy(cr) }
        cairo_translate(cr, Double(border), Double(border))
        cairo_scale(cr, scale, scale)
        do {
            let geometry = try Renderer.draw(self, on: cr, x: 0, y: 0, clip: clip)
            cairo_surface_flush(surface)
            return Raster(surface: surface, width: pixelWidth, height: pixelHeight, scale: scale, border: border,
                          dpi: dpi, geometry: geometry)
        } catch {
            cairo_surface_destroy(surface)
            throw error
        }
    }

    private func drawAndFinish(_ surface: OpaquePointer) throws {
        defer { cairo_surface_destroy(surface) }
        let cr = cairo_create(surface)!
        do {
            try Renderer.draw(self, on: cr, x: 0, y: 0)
        } catch {
            cairo_destroy(cr)
            throw error
        }
        cairo_destroy(cr)
        cairo_surface_finish(surface)
        let status = cairo_surface_status(surface)
        guard status == CAIRO_STATUS_SUCCESS else { throw PlotError.cairo(String(cString: cairo_status_to_string(status))) }
    }
}

/// A figure rendered in memory: an ARGB32 Cairo image surface and where the panels went.
final class Raster {
    let surface: OpaquePointer
    let width: Int
    let height: Int
    /// Pixels per point.
    let scale: Double
    /// Transparent margin around the canvas, in pixels.
    let border: Int
    let dpi: Double
    let geometry: [PanelGeometry]

    init(surface: OpaquePointer, width: Int, height: Int, scale: Double, border: Int, dpi: Double, geometry: [PanelGeometry]) {
        self.surface = surface
        self.width = width
        self.height = height
        self.scale = scale
        self.border = border
        self.dpi = dpi
        self.geometry = geometry
    }

    deinit {
        cairo_surface_destroy(surface)
    }

    /// The pixel at column x, row y as premultiplied (alpha, red, green, blue).
    func pixel(_ x: Int, _ y: Int) -> (a: UInt8, r: UInt8, g: UInt8, b: UInt8) {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width) × \(height)")
        let stride = Int(cairo_image_surface_get_stride(surface))
        let value = UnsafeRawPointer(cairo_image_surface_get_data(surface)!).load(fromByteOffset: y * stride + x * 4, as: UInt32.self)
        return (UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF))
    }

    /// The pixel column and row of a point (in points, relative to the canvas).
    func pixelPosition(x: Double, y: Double) -> (Int, Int) {
        (Int((x * scale).rounded(.down)) + border, Int((y * scale).rounded(.down)) + border)
    }

    /// PNG bytes with a pHYs chunk recording `dpi`.
    func pngData() throws -> Data {
        let sink = DataSink()
        let status = cairo_surface_write_to_png_stream(surface, writeToSink, Unmanaged.passUnretained(sink).toOpaque())
        guard status == CAIRO_STATUS_SUCCESS else { throw PlotError.cairo(String(cString: cairo_status_to_string(status))) }
        return withPhysicalResolution(sink.data, dpi: dpi)
    }
}

/// The creation date written into every PDF: fixed, so that output is reproducible.
private let fixedPDFDate = "2000-01-01T00:00:00Z"

/// Collects the bytes Cairo writes to a stream.
private final class DataSink {
    var data = Data()
}

/// The `cairo_write_func_t` that appends to a ``DataSink``.
private let writeToSink: cairo_write_func_t = { closure, bytes, length in
    guard let closure, let bytes else { return CAIRO_STATUS_WRITE_ERROR }
    Unmanaged<DataSink>.fromOpaque(closure).takeUnretainedValue().data.append(bytes, count: Int(length))
    return CAIRO_STATUS_SUCCESS
}

/// Cairo numbers SVG surfaces, images, patterns and clips with process-wide counters, so the
/// same figure drawn twice in one process gets different ids. Renumbers each kind of id
/// (`surface12`, `image7`, `pattern3`, …) in order of first appearance; references use the same
/// spelling, so they stay consistent.
func normalizedSVG(_ data: Data) -> Data {
    let kinds: [[UInt8]] = ["surface", "image", "pattern", "linear", "radial", "clip", "mask", "filter", "source"].map { Array($0.utf8) }
    let bytes = [UInt8](data)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var numbering: [[UInt8]: [ArraySlice<UInt8>: Int]] = [:]
    let isDigit = { (b: UInt8) in b >= 0x30 && b <= 0x39 }
    let isLetter = { (b: UInt8) in (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
    var i = 0
    scan: while i < bytes.count {
        if i == 0 || !isLetter(bytes[i - 1]) {
            for kind in kinds where bytes.count - i > kind.count && bytes[i] == kind[0] && bytes[i..<(i + kind.count)].elementsEqual(kind) {
                var j = i + kind.count
                while j < bytes.count, isDigit(bytes[j]) { j += 1 }
                guard j > i + kind.count else { continue }
                let digits = bytes[(i + kind.count)..<j]
                let id = numbering[kind, default: [:]][digits] ?? (numbering[kind]?.count ?? 0) + 1
                numbering[kind, default: [:]][digits] = id
                out += kind
                out += Array(String(id).utf8)
                i = j
                continue scan
            }
        }
        out.append(bytes[i])
        i += 1
    }
    return Data(out)
}

/// Inserts a pHYs chunk (pixels per metre) after the PNG's IHDR chunk, so viewers and
/// typesetters know the intended print size.
func withPhysicalResolution(_ png: Data, dpi: Double) -> Data {
    let bytes = [UInt8](png)
    // 8-byte signature, then IHDR: length (4) + type (4) + 13 data + CRC (4) = 25 bytes.
    guard bytes.count > 33, bytes[12..<16].elementsEqual("IHDR".utf8) else { return png }
    let perMetre = UInt32((dpi / 0.0254).rounded())
    var chunk: [UInt8] = Array("pHYs".utf8)
    for value in [perMetre, perMetre] { chunk += withUnsafeBytes(of: value.bigEndian, Array.init) }
    chunk.append(1) // unit: metre
    var out = Array(bytes[0..<33])
    out += withUnsafeBytes(of: UInt32(9).bigEndian, Array.init)
    out += chunk
    out += withUnsafeBytes(of: crc32(chunk).bigEndian, Array.init)
    out += bytes[33...]
    return Data(out)
}

/// CRC-32 (ISO 3309, polynomial 0xEDB88320) as PNG chunks use it.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
    }
    return ~crc
}

/// Writes `data` to a temporary file next to `url`, then renames it over `url`.
func writeAtomically(_ data: Data, to url: URL) throws {
    let directory = url.deletingLastPathComponent()
    do {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
        throw PlotError.write(path: url.path, reason: "cannot create directory: \(error.localizedDescription)")
    }
    let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
    do {
        try data.write(to: temporary)
    } catch {
        throw PlotError.write(path: url.path, reason: error.localizedDescription)
    }
    if rename(temporary.path, url.path) != 0 {
        let reason = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: temporary)
        throw PlotError.write(path: url.path, reason: reason)
    }
}
