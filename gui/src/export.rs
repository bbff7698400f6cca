//! Exports: the current report as JSON or CSV, and a plot as PNG.
//!
//! A plot is exported from a screenshot of the window: the app asks for one
//! (`ViewportCommand::Screenshot`), and when it arrives [`crop`] cuts out the plot's rectangle and
//! [`encode_png`] encodes it. Both are pure, so they are tested without a window.

use std::path::{Path, PathBuf};

use egui::{Color32, ColorImage, Rect};
use infscaler_sim::Report;

use infscaler_results::{atomic, files};

/// The report as the JSON `infscaler run --json` prints.
pub fn report_json(report: &Report) -> Result<String, String> {
    serde_json::to_string_pretty(report).map_err(|e| format!("cannot write the report: {e}"))
}

/// Writes the report as JSON to `path`, atomically.
pub fn write_report_json(report: &Report, path: &Path) -> Result<(), String> {
    let text = report_json(report)?;
    atomic::write_bytes(path, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {}", path.display(), e.with_causes()))
}

/// Writes the report as one CSV row (a header and the row a sweep writes for a run: the same
/// columns and types, `infscaler_sim::report::row::report_row`) to `path`, atomically.
pub fn write_report_csv(report: &Report, path: &Path) -> Result<(), String> {
    let row = infscaler_sim::report::row::report_row(report);
    let mut df = files::frame(&[row]).map_err(|e| e.with_causes())?;
    files::write(&mut df, path).map_err(|e| e.with_causes())
}

/// The part of `image` (a screenshot, in pixels) under `rect` (in points), clipped to the image;
/// `None` when nothing of the rectangle is on the image.
pub fn crop(image: &ColorImage, rect: Rect, pixels_per_point: f32) -> Option<ColorImage> {
    let [w, h] = image.size;
    let px = |v: f32, max: usize| ((v * pixels_per_point).round().max(0.0) as usize).min(max);
    let (x0, x1) = (px(rect.min.x, w), px(rect.max.x, w));
    let (y0, y1) = (px(rect.min.y, h), px(rect.max.y, h));
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let mut pixels = Vec::with_capacity((x1 - x0) * (y1 - y0));
    for y in y0..y1 {
        pixels.extend_from_slice(&image.pixels[y * w + x0..y * w + x1]);
    }
    Some(ColorImage::new([x1 - x0, y1 - y0], pixels))
}

/// The image as PNG bytes (RGBA, unmultiplied alpha).
pub fn encode_png(image: &ColorImage) -> Result<Vec<u8>, String> {
    let [w, h] = image.size;
    let rgba: Vec<u8> = image
        .pixels
        .iter()
        .flat_map(|c: &Color32| c.to_srgba_unmultiplied())
        .collect();
    let buffer = image::RgbaImage::from_raw(w as u32, h as u32, rgba)
        .ok_or_else(|| "the image's size does not match its pixels".to_string())?;
    let mut bytes = std::io::Cursor::new(Vec::new());
    buffer
        .write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(|e| format!("cannot encode the PNG: {e}"))?;
    Ok(bytes.into_inner())
}

/// Crops a screenshot to `rect`, encodes it and writes it to `path` atomically.
pub fn write_plot_png(
    screenshot: &ColorImage,
    rect: Rect,
    pixels_per_point: f32,
    path: &Path,
) -> Result<(), String> {
    let plot = crop(screenshot, rect, pixels_per_point)
        .ok_or_else(|| "the plot is not on screen".to_string())?;
    let png = encode_png(&plot)?;
    atomic::write_bytes(path, &png)
        .map_err(|e| format!("cannot write {}: {}", path.display(), e.with_causes()))
}

/// `dir/<stem>.<ext>` with the stem made safe for a file name.
pub fn export_path(dir: &Path, stem: &str, ext: &str) -> PathBuf {
    let safe: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}.{ext}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui::pos2;

    /// A 4×3 image whose pixel (x, y) has red = x, green = y.
    fn grid() -> ColorImage {
        let pixels = (0..3)
            .flat_map(|y| (0..4).map(move |x| Color32::from_rgb(x, y, 200)))
            .collect();
        ColorImage::new([4, 3], pixels)
    }

    #[test]
    fn crop_takes_the_rectangle_in_pixels() {
        // At 2 pixels per point, points (0.5, 0.5)–(1.5, 1.5) are pixels (1, 1)–(3, 3).
        let c = crop(
            &grid(),
            Rect::from_min_max(pos2(0.5, 0.5), pos2(1.5, 1.5)),
            2.0,
        )
        .unwrap();
        assert_eq!(c.size, [2, 2]);
        let rg: Vec<(u8, u8)> = c.pixels.iter().map(|p| (p.r(), p.g())).collect();
        assert_eq!(rg, vec![(1, 1), (2, 1), (1, 2), (2, 2)]);
    }

    #[test]
    fn crop_clips_to_the_image_and_refuses_empty_rectangles() {
        let c = crop(
            &grid(),
            Rect::from_min_max(pos2(-5.0, 2.0), pos2(50.0, 50.0)),
            1.0,
        )
        .unwrap();
        assert_eq!(c.size, [4, 1]);
        assert_eq!(c.pixels[3], Color32::from_rgb(3, 2, 200));
        assert!(
            crop(
                &grid(),
                Rect::from_min_max(pos2(10.0, 0.0), pos2(20.0, 2.0)),
                1.0
            )
            .is_none()
        );
        assert!(crop(&grid(), Rect::NOTHING, 1.0).is_none());
    }

    #[test]
    fn png_decodes_back_to_the_same_pixels() {
        let img = grid();
        let png = encode_png(&img).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let back = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
            .unwrap()
            .to_rgba8();
        assert_eq!(back.dimensions(), (4, 3));
        assert_eq!(back.get_pixel(3, 2).0, [3, 2, 200, 255]);
    }

    fn short_report() -> Report {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut s = crate::scenario_edit::open(&dir.join("quickstart.toml")).unwrap();
        s.run.duration = Some("1s".parse().unwrap());
        s.run.warmup = "0s".parse().unwrap();
        let resolved = s.resolve().unwrap();
        infscaler_sim::Simulation::new(&resolved, None)
            .unwrap()
            .run()
    }

    #[test]
    fn reports_export_as_json_and_as_a_csv_row_the_cli_reads() {
        let report = short_report();
        let dir = std::env::temp_dir().join(format!("infscaler-gui-export-{}", std::process::id()));
        let json = dir.join("r.json");
        write_report_json(&report, &json).unwrap();
        let back: Report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(back, report);

        let csv = dir.join("r.csv");
        write_report_csv(&report, &csv).unwrap();
        let text = std::fs::read_to_string(&csv).unwrap();
        assert_eq!(text.lines().count(), 2, "a header and one row");
        assert!(
            text.starts_with("scenario,app,policy,device,transport,seed,arrivals"),
            "{text}"
        );
        let df = files::read(&csv).unwrap();
        assert_eq!(df.height(), 1);
        let completed = df.column("completed").unwrap().i64().unwrap().get(0);
        assert_eq!(completed, Some(report.summary.completed as i64));

        // A path that cannot be written: an error, not a panic.
        assert!(write_report_csv(&report, &dir.join("r.txt")).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn export_paths_are_safe_file_names() {
        assert_eq!(
            export_path(Path::new("out"), "tm / static: 1", "png"),
            PathBuf::from("out/tm___static__1.png")
        );
    }
}
