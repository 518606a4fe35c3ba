// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var W = 94, E = 142, N = 7, S = -11.5; // Indonesia's bounding box (degrees)
  var SVG = "http://www.w3.org/2000/svg";

  function el(name, attrs) {
    var node = document.createElementNS(SVG, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    return node;
  }
  function x(lon) { return lon - W; }
  function y(lat) { return N - lat; }

  function drawMap(box) {
    var svg = el("svg", { viewBox: "0 0 " + (E - W) + " " + (N - S), "class": "mapbox", role: "img" });
    var provinces = JSON.parse(box.getAttribute("data-provinces") || "[]");
    provinces.forEach(function (p) {
      if (!p.lat && !p.lon) return;
      svg.appendChild(el("circle", { cx: x(p.lon), cy: y(p.lat), r: 0.35, "class": "prov" }));
      var label = el("text", { x: x(p.lon) + 0.5, y: y(p.lat) + 0.3 });
      label.textContent = p.name;
      svg.appendChild(label);
    });
    box.appendChild(svg);
    return svg;
  }

  // The submit form: a tap on the map (or the device's position) fills latitude/longitude.
  var pinBox = document.getElementById("pin-map");
  if (pinBox) {
    var svg = drawMap(pinBox);
    var lat = document.getElementById("lat"), lon = document.getElementById("lon");
    var pin = el("circle", { r: 0.5, "class": "pin", visibility: "hidden" });
    svg.appendChild(pin);
    var show = function () {
      var la = parseFloat(lat.value), lo = parseFloat(lon.value);
      if (isFinite(la) && isFinite(lo)) {
        pin.setAttribute("cx", x(lo)); pin.setAttribute("cy", y(la));
        pin.setAttribute("visibility", "visible");
      }
    };
    svg.addEventListener("click", function (ev) {
      var pt = svg.createSVGPoint(); pt.x = ev.clientX; pt.y = ev.clientY;
      var p = pt.matrixTransform(svg.getScreenCTM().inverse());
      lon.value = (p.x + W).toFixed(5); lat.value = (N - p.y).toFixed(5); show();
    });
    lat.addEventListener("change", show); lon.addEventListener("change", show); show();
    var locate = document.getElementById("use-location");
    if (locate && navigator.geolocation) {
      locate.addEventListener("click", function () {
        navigator.geolocation.getCurrentPosition(function (pos) {
          lat.value = pos.coords.latitude.toFixed(5); lon.value = pos.coords.longitude.toFixed(5); show();
        });
      });
    } else if (locate) { locate.hidden = true; }
  }

  // The region picker: choosing a level fills the next one from /api/v1/regions.
  function fill(select, parent) {
    var first = select.options[0];
    select.innerHTML = ""; select.appendChild(first);
    if (!parent) return;
    fetch("/api/v1/regions?parent=" + encodeURIComponent(parent)).then(function (r) {
      return r.ok ? r.json() : [];
    }).then(function (list) {
      list.forEach(function (r) { select.appendChild(new Option(r.name, r.code)); });
    });
  }
  var province = document.getElementById("province");
  var regency = document.getElementById("regency");
  var district = document.getElementById("district");
  if (province && regency && district) {
    province.addEventListener("change", function () { fill(regency, province.value); fill(district, ""); });
    regency.addEventListener("change", function () { fill(district, regency.value); });
  }

  // The map page: every public report with a position as a dot.
  var mapBox = document.getElementById("report-map");
  if (mapBox) {
    var msvg = drawMap(mapBox);
    fetch(mapBox.getAttribute("data-source")).then(function (r) { return r.json(); }).then(function (fc) {
      fc.features.forEach(function (f) {
        var c = f.geometry.coordinates;
        var a = el("a", { href: "/laporan/" + encodeURIComponent(f.properties.tracking_id) });
        var dot = el("circle", { cx: x(c[0]), cy: y(c[1]), r: 0.3, "class": "pt" });
        var title = el("title", {}); title.textContent = f.properties.title;
        dot.appendChild(title); a.appendChild(dot); msvg.appendChild(a);
      });
    });
  }
})();
