// colors.ts — colour parsing and WCAG contrast: the readable text colour on the primary colour.

/** The text colours the widget may put on the primary colour. */
export const WHITE = "#ffffff";
export const NEAR_BLACK = "#111111";
export const BLACK = "#000000";

/** `#rrggbb` to its channels, or null. */
export function hexToRgb(hex: string): [number, number, number] | null {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex.trim());
  if (!m) return null;
  return [
    Number.parseInt(m[1] ?? "0", 16),
    Number.parseInt(m[2] ?? "0", 16),
    Number.parseInt(m[3] ?? "0", 16),
  ];
}

/** WCAG 2.x relative luminance of `#rrggbb` (0 black … 1 white). */
export function luminance(hex: string): number {
  const rgb = hexToRgb(hex);
  if (!rgb) return 0;
  const [r, g, b] = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio between two `#rrggbb` colours (1 … 21). */
export function contrastRatio(a: string, b: string): number {
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/**
 * The text colour for a background: white when it reaches WCAG AA (4.5:1), else near-black when that does, else
 * pure black (a narrow band of mid-tones reaches 4.5:1 only with black; every `#rrggbb` does with white or black).
 */
export function readableTextColor(background: string): string {
  if (contrastRatio(background, WHITE) >= 4.5) return WHITE;
  if (contrastRatio(background, NEAR_BLACK) >= 4.5) return NEAR_BLACK;
  return BLACK;
}
