// HTML text escaping for report.html and its sections (every string from a run is escaped).
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[c]!)
}
