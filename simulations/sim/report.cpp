#include "simulations/sim/report.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

#include "actors/core/json.hpp"

namespace actorrent::sim {

namespace {

// Completion times (arrival to last file), ms, sorted.
std::vector<int64_t> completion_ms(const harness& h) {
  std::vector<int64_t> xs;
  for (auto& c : h.clients())
    if (!c.leaves && !c.wants.empty() && c.finished >= caf::timespan{0})
      xs.push_back(ms_of(c.finished - c.arrive));
  std::sort(xs.begin(), xs.end());
  return xs;
}

int64_t percentile(const std::vector<int64_t>& xs, double p) {
  if (xs.empty())
    return -1;
  auto i = static_cast<size_t>(std::ceil(p / 100 * xs.size()));
  return xs[std::min(xs.size() - 1, i == 0 ? 0 : i - 1)];
}

std::string ms_text(int64_t ms) {
  return ms < 0 ? std::string{"-"} : std::to_string(ms) + " ms";
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out += c;
  }
  return out;
}

struct fault_line {
  int64_t at, detect, recover;
  std::string what, outcome;
};

std::vector<fault_line> fault_lines(const harness& h) {
  std::vector<fault_line> out;
  for (auto& f : h.faults()) {
    if (!f.injected)
      continue;
    std::string what = f.action;
    for (auto& t : f.targets)
      what += " " + t;
    if (!f.side_b.empty()) {
      what += " /";
      for (auto& t : f.side_b)
        what += " " + t;
    }
    auto rel = [&](caf::timespan t) {
      return t < caf::timespan{0} ? int64_t{-1} : ms_of(t - f.injected_at);
    };
    out.push_back({ms_of(f.injected_at), rel(f.detected_at),
                   rel(f.recovered_at), what, f.outcome});
  }
  return out;
}

} // namespace

std::string summary_text(const harness& h, const outcome& o,
                         const std::string& scenario) {
  auto& cfg = h.config();
  std::ostringstream out;
  out << "actorrent sim: " << scenario << ", seed " << cfg.seed << ", "
      << cfg.mode << "\n";
  out << "virtual time " << ms_of(o.virtual_end) << " ms, " << o.events
      << " events, wall " << std::fixed << std::setprecision(2)
      << o.wall_seconds << " s";
  if (o.wall_seconds > 0 && o.events > 0)
    out << " (" << static_cast<uint64_t>(o.events / o.wall_seconds)
        << " events/s)";
  out << ", peak RSS " << o.peak_rss_kib / 1024 << " MiB\n";
  if (!o.digest.empty())
    out << "trace digest: " << o.digest << "\n";
  if (!o.profile.empty()) {
    double total = 0;
    for (auto& x : o.profile)
      total += x.seconds;
    out << "wall time by kind of event (sim.profile; " << std::setprecision(2)
        << total << " s in events):\n";
    for (size_t i = 0; i < o.profile.size() && i < 20; ++i) {
      auto& x = o.profile[i];
      out << "  " << std::left << std::setw(44) << x.kind << std::right
          << std::setw(10) << x.events << " events " << std::setw(8)
          << std::setprecision(3) << x.seconds << " s " << std::setw(8)
          << std::setprecision(1) << 1e6 * x.seconds / static_cast<double>(x.events)
          << " us each " << std::setw(5) << 100 * x.seconds / total << " %\n";
    }
  }
  auto xs = completion_ms(h);
  size_t wanting = 0;
  for (auto& c : h.clients())
    wanting += !c.leaves && !c.wants.empty();
  out << "clients: " << h.clients().size() << ", " << xs.size() << " of "
      << wanting << " downloading clients complete\n";
  out << "completion time (arrival to last file): p50 "
      << ms_text(percentile(xs, 50)) << ", p90 " << ms_text(percentile(xs, 90))
      << ", p99 " << ms_text(percentile(xs, 99)) << ", max "
      << ms_text(xs.empty() ? -1 : xs.back()) << "\n";
  out << "bytes served by kind:";
  for (auto& [kind, n] : h.bytes_by_kind())
    out << " " << kind << " " << human_bytes(static_cast<double>(n));
  out << "\n";
  out << "connections lost (each a failover for its users): "
      << h.connections_lost() << "\n";
  uint32_t restarts = 0, give_ups = 0;
  for (auto& [name, s] : h.supervision()) {
    restarts += s.restarts;
    give_ups += s.state == "failed";
  }
  out << "restarts of faulted actors: " << restarts << ", supervisor give-ups: "
      << give_ups << "\n";
  auto faults = fault_lines(h);
  if (!faults.empty())
    out << "faults (detect / recover, from the injection):\n";
  for (auto& f : faults)
    out << "  " << f.at << " ms " << f.what << ": detect "
        << ms_text(f.detect) << ", recover " << ms_text(f.recover)
        << (f.outcome.empty() ? "" : " (" + f.outcome + ")") << "\n";
  out << "invariants:\n";
  for (auto& inv : o.invariants) {
    out << "  " << (inv.pass ? "PASS" : "FAIL") << " " << inv.name << "\n";
    std::istringstream lines{inv.detail};
    for (std::string l; std::getline(lines, l);)
      if (!l.empty())
        out << "       " << l << "\n";
  }
  out << (o.passed() ? "PASS" : "FAIL") << "\n";
  return out.str();
}

std::string report_json(const harness& h, const outcome& o,
                        const std::string& scenario) {
  auto xs = completion_ms(h);
  json_object j;
  j.add("scenario", scenario)
    .add("seed", h.config().seed)
    .add("mode", h.config().mode)
    .add("digest", o.digest)
    .add("events", o.events)
    .add("virtual_ms", ms_of(o.virtual_end))
    .add("wall_seconds", o.wall_seconds)
    .add("peak_rss_kib", o.peak_rss_kib)
    .add("passed", o.passed())
    .add("completion_p50_ms", percentile(xs, 50))
    .add("completion_p90_ms", percentile(xs, 90))
    .add("completion_p99_ms", percentile(xs, 99))
    .add("completion_max_ms", xs.empty() ? int64_t{-1} : xs.back())
    .add("connections_lost", h.connections_lost());
  json_object bytes;
  for (auto& [kind, n] : h.bytes_by_kind())
    bytes.add(kind, n);
  j.add_raw("bytes_by_kind", bytes.str());
  std::vector<std::string> invs;
  for (auto& inv : o.invariants)
    invs.push_back(json_object{}
                     .add("name", inv.name)
                     .add("pass", inv.pass)
                     .add("detail", inv.detail)
                     .str());
  j.add_raw("invariants", json_array(invs));
  std::vector<std::string> faults;
  for (auto& f : fault_lines(h))
    faults.push_back(json_object{}
                       .add("at_ms", f.at)
                       .add("fault", f.what)
                       .add("detect_ms", f.detect)
                       .add("recover_ms", f.recover)
                       .add("outcome", f.outcome)
                       .str());
  j.add_raw("faults", json_array(faults));
  std::vector<std::string> sup;
  for (auto& [name, s] : h.supervision())
    sup.push_back(json_object{}
                    .add("actor", name)
                    .add("state", s.state)
                    .add("restarts", s.restarts)
                    .str());
  j.add_raw("supervision", json_array(sup));
  std::vector<std::string> clients;
  for (auto& c : h.clients()) {
    json_object x;
    x.add("name", c.name)
      .add("arrive_ms", ms_of(c.arrive))
      .add("finish_ms", c.finished < caf::timespan{0} ? int64_t{-1}
                                                       : ms_of(c.finished))
      .add("pieces", c.pieces_got)
      .add("pieces_wanted", c.pieces_wanted)
      .add("gone", c.dead);
    if (!c.incomplete.empty())
      x.add("incomplete", c.incomplete);
    json_object files;
    for (auto& [f, t] : c.done)
      files.add(f, ms_of(t));
    x.add_raw("files_done_ms", files.str());
    clients.push_back(x.str());
  }
  j.add_raw("clients", json_array(clients));
  std::vector<std::string> tp;
  for (auto& [tenth, n] : h.throughput())
    tp.push_back("[" + std::to_string(tenth * 100) + "," + std::to_string(n) + "]");
  j.add_raw("bytes_per_100ms", json_array(tp));
  std::vector<std::string> reps;
  for (auto& r : h.replicas()) {
    std::vector<std::string> v;
    for (auto n : r.replicas)
      v.push_back(std::to_string(n));
    reps.push_back("[" + std::to_string(ms_of(r.at)) + "," + json_array(v) + "]");
  }
  j.add_raw("replicas", json_array(reps));
  std::vector<std::string> parts;
  for (auto& p : h.part_names())
    parts.push_back(json_quote(p));
  j.add_raw("parts", json_array(parts));
  return j.str() + "\n";
}

namespace {

// A plot area: 640 x 260 with margins, axes and labels.
struct plot {
  double w = 640, h = 260, left = 60, right = 20, top = 20, bottom = 40;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  std::ostringstream svg;
  double x(double v) const {
    return left + (v - x0) / (x1 - x0 == 0 ? 1 : x1 - x0) * (w - left - right);
  }
  double y(double v) const {
    return h - bottom - (v - y0) / (y1 - y0 == 0 ? 1 : y1 - y0) * (h - top - bottom);
  }
  void begin(const std::string& title) {
    svg << std::fixed << std::setprecision(1);
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w
        << "\" height=\"" << h << "\" font-family=\"sans-serif\" font-size=\"11\">"
        << "<title>" << escape(title) << "</title>"
        << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>";
  }
  void axes(const std::string& xlabel, const std::string& ylabel, int xticks,
            int yticks) {
    svg << "<line x1=\"" << left << "\" y1=\"" << h - bottom << "\" x2=\""
        << w - right << "\" y2=\"" << h - bottom << "\" stroke=\"black\"/>"
        << "<line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left
        << "\" y2=\"" << h - bottom << "\" stroke=\"black\"/>";
    for (int i = 0; i <= xticks; ++i) {
      auto v = x0 + (x1 - x0) * i / xticks;
      svg << "<text x=\"" << x(v) << "\" y=\"" << h - bottom + 14
          << "\" text-anchor=\"middle\">" << label(v) << "</text>";
    }
    for (int i = 0; i <= yticks; ++i) {
      auto v = y0 + (y1 - y0) * i / yticks;
      svg << "<text x=\"" << left - 4 << "\" y=\"" << y(v) + 4
          << "\" text-anchor=\"end\">" << label(v) << "</text>"
          << "<line x1=\"" << left << "\" y1=\"" << y(v) << "\" x2=\""
          << w - right << "\" y2=\"" << y(v) << "\" stroke=\"#eee\"/>";
    }
    svg << "<text x=\"" << (left + w - right) / 2 << "\" y=\"" << h - 6
        << "\" text-anchor=\"middle\">" << escape(xlabel) << "</text>"
        << "<text x=\"12\" y=\"" << (top + h - bottom) / 2
        << "\" text-anchor=\"middle\" transform=\"rotate(-90 12 "
        << (top + h - bottom) / 2 << ")\">" << escape(ylabel) << "</text>";
  }
  static std::string label(double v) {
    std::ostringstream s;
    if (std::abs(v - std::round(v)) < 1e-9 || std::abs(v) >= 10)
      s << static_cast<int64_t>(std::round(v));
    else
      s << std::setprecision(2) << v;
    return s.str();
  }
  void polyline(const std::vector<std::pair<double, double>>& pts,
                const std::string& color, double width = 1.5,
                double opacity = 1) {
    svg << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\""
        << width << "\" stroke-opacity=\"" << opacity << "\" points=\"";
    for (auto& [a, b] : pts)
      svg << x(a) << "," << y(b) << " ";
    svg << "\"/>";
  }
  void marker(double at, const std::string& text, int row) {
    svg << "<line x1=\"" << x(at) << "\" y1=\"" << top << "\" x2=\"" << x(at)
        << "\" y2=\"" << h - bottom << "\" stroke=\"#c00\" stroke-dasharray=\"4 3\"/>"
        << "<text x=\"" << x(at) + 3 << "\" y=\"" << top + 10 + 11 * (row % 6)
        << "\" fill=\"#c00\">" << escape(text) << "</text>";
  }
  std::string end() {
    svg << "</svg>";
    return svg.str();
  }
};

double end_seconds(const harness& h, const outcome& o) {
  return std::max(1.0, static_cast<double>(ms_of(o.virtual_end)) / 1000);
}

void mark_faults(plot& p, const harness& h) {
  int row = 0;
  for (auto& f : fault_lines(h))
    p.marker(static_cast<double>(f.at) / 1000, f.what, row++);
}

} // namespace

std::string cdf_svg(const harness& h) {
  auto xs = completion_ms(h);
  plot p;
  p.begin("completion times");
  p.x1 = xs.empty() ? 1 : std::max(1.0, static_cast<double>(xs.back()) / 1000);
  p.axes("completion time (s, arrival to last file)", "fraction of clients", 5, 4);
  std::vector<std::pair<double, double>> pts;
  size_t total = 0;
  for (auto& c : h.clients())
    total += !c.leaves && !c.wants.empty();
  for (size_t i = 0; i < xs.size(); ++i) {
    auto t = static_cast<double>(xs[i]) / 1000;
    auto before = static_cast<double>(i) / std::max<size_t>(total, 1);
    auto after = static_cast<double>(i + 1) / std::max<size_t>(total, 1);
    pts.emplace_back(t, before);
    pts.emplace_back(t, after);
  }
  p.polyline(pts, "#1f77b4");
  return p.end();
}

std::string throughput_svg(const harness& h, const outcome& o) {
  plot p;
  p.begin("throughput");
  p.x1 = end_seconds(h, o);
  // Bins of 100 ms, merged so that there are at most 200.
  auto tenths = static_cast<int64_t>(std::ceil(p.x1 * 10));
  int64_t width = std::max<int64_t>(1, (tenths + 199) / 200);
  std::map<int64_t, double> bins;  // bin -> MB/s
  for (auto& [tenth, n] : h.throughput())
    bins[tenth / width] += static_cast<double>(n) / 1e6 / (0.1 * width);
  double top = 1;
  for (auto& kvp : bins)
    top = std::max(top, kvp.second);
  p.y1 = std::ceil(top);
  p.axes("virtual time (s)", "MB/s written into downloads", 5, 4);
  std::vector<std::pair<double, double>> pts;
  for (int64_t b = 0; b * width <= tenths; ++b) {
    auto i = bins.find(b);
    auto v = i == bins.end() ? 0.0 : i->second;
    pts.emplace_back(0.1 * static_cast<double>(b * width), v);
    pts.emplace_back(0.1 * static_cast<double>((b + 1) * width), v);
  }
  p.polyline(pts, "#2ca02c");
  mark_faults(p, h);
  return p.end();
}

std::string replicas_svg(const harness& h, const outcome& o) {
  plot p;
  p.begin("replicas per part");
  p.x1 = end_seconds(h, o);
  p.y1 = h.config().replicas + 1;
  p.axes("virtual time (s)", "live replicas of each part", 5,
         static_cast<int>(p.y1));
  auto& parts = h.part_names();
  for (size_t k = 0; k < parts.size(); ++k) {
    std::vector<std::pair<double, double>> pts;
    for (auto& r : h.replicas())
      pts.emplace_back(static_cast<double>(ms_of(r.at)) / 1000,
                       r.replicas[k] + 0.04 * (static_cast<double>(k % 5) - 2));
    p.polyline(pts, "#9467bd", 1, 0.5);
  }
  mark_faults(p, h);
  return p.end();
}

std::string report_html(const harness& h, const outcome& o,
                        const std::string& scenario) {
  std::ostringstream out;
  out << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>actorrent sim: "
      << escape(scenario) << "</title><style>body{font-family:sans-serif;"
         "max-width:960px;margin:auto}td,th{padding:2px 8px;text-align:right}"
         "pre{background:#f6f6f6;padding:8px}</style></head><body>"
      << "<h1>actorrent sim: " << escape(scenario) << "</h1>"
      << "<pre>" << escape(summary_text(h, o, scenario)) << "</pre>"
      << "<h2>Completion times (CDF)</h2>" << cdf_svg(h)
      << "<h2>Throughput over virtual time, faults marked</h2>"
      << throughput_svg(h, o);
  if (!h.part_names().empty())
    out << "<h2>Live replicas of each part over time</h2>" << replicas_svg(h, o);
  out << "<h2>Clients: when each arrived and finished each file (virtual ms)</h2>"
      << "<table><tr><th>client</th><th>arrived</th><th>finished</th>";
  std::vector<std::string> files;
  for (uint32_t f = 0; f < h.config().files && f < 8; ++f)
    files.push_back("file-" + std::to_string(f));
  for (auto& f : files)
    out << "<th>" << f << "</th>";
  out << "</tr>";
  size_t shown = 0;
  for (auto& c : h.clients()) {
    if (++shown > 1000)
      break;
    out << "<tr><td>" << c.name << "</td><td>" << ms_of(c.arrive) << "</td><td>"
        << (c.finished < caf::timespan{0} ? (c.dead ? "gone" : "-")
                                           : std::to_string(ms_of(c.finished)))
        << "</td>";
    for (auto& f : files) {
      auto i = c.done.find(f);
      out << "<td>"
          << (c.holds.count(f) ? "seed"
              : i == c.done.end() ? "-"
                                  : std::to_string(ms_of(i->second)))
          << "</td>";
    }
    out << "</tr>";
  }
  out << "</table>";
  if (h.clients().size() > 1000)
    out << "<p>(first 1000 of " << h.clients().size()
        << " clients; all in report.json)</p>";
  out << "</body></html>\n";
  return out.str();
}

std::string write_report(const std::string& dir, const harness& h,
                         const outcome& o, const std::string& scenario) {
  if (!make_dirs(dir))
    return "cannot make the report directory " + dir;
  auto put = [&](const std::string& name, const std::string& text) {
    std::ofstream f{dir + "/" + name};
    f << text;
    return static_cast<bool>(f);
  };
  if (!put("summary.txt", summary_text(h, o, scenario))
      || !put("report.json", report_json(h, o, scenario))
      || !put("report.html", report_html(h, o, scenario))
      || !put("throughput.svg", throughput_svg(h, o)))
    return "cannot write the report into " + dir;
  return {};
}

} // namespace actorrent::sim
