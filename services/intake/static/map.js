// LAPOR's maps (Leaflet, served by LAPOR): the public map of reports and the submit form's
// location picker. Loaded only on pages with a map. Tiles come from the configured tile server;
// when they cannot load (offline, server down) Indonesia's outline shipped with LAPOR is drawn
// instead, so the map still shows where things are.
(function () {
  "use strict";
  if (!window.L) return;
  var INDONESIA = [[-11.2, 94.5], [6.3, 141.2]];

  function baseMap(box) {
    var map = L.map(box, { minZoom: 3, maxZoom: 19, zoomSnap: 1, worldCopyJump: false });
    map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    map.fitBounds(INDONESIA);
    // The outline sits below the tiles: drawn only when the tiles fail, covered when they load.
    map.createPane("outline").style.zIndex = 150;
    var outlineShown = false;
    function showOutline() {
      if (outlineShown) return;
      outlineShown = true;
      box.classList.add("offline");
      fetch(box.getAttribute("data-outline")).then(function (r) { return r.json(); }).then(function (fc) {
        L.geoJSON(fc, {
          pane: "outline",
          interactive: false,
          style: function (f) {
            return f.properties.indonesia
              ? { color: "#2d6a4f", weight: 1, fillColor: "#d8f3dc", fillOpacity: 1 }
              : { color: "#999", weight: 0.5, fillColor: "#eee", fillOpacity: 1 };
          }
        }).addTo(map);
        map.attributionControl.addAttribution("Garis pantai/coastline: Natural Earth");
      });
      var note = document.getElementById(box.id + "-offline");
      if (note) note.hidden = false;
    }
    var loaded = false;
    var tiles = L.tileLayer(box.getAttribute("data-tiles"), {
      maxZoom: 19,
      attribution: box.getAttribute("data-attribution")
    });
    tiles.on("tileload", function () { loaded = true; });
    tiles.on("tileerror", showOutline);
    tiles.addTo(map);
    setTimeout(function () { if (!loaded) showOutline(); }, 4000);
    return map;
  }

  function text(tag, value, cls) {
    var node = document.createElement(tag);
    node.textContent = value;
    if (cls) node.className = cls;
    return node;
  }

  // --- the public map: clustered pins, filters without a page reload ----------------------
  var reportBox = document.getElementById("report-map");
  if (reportBox) {
    var map = baseMap(reportBox);
    var cluster = L.markerClusterGroup({ maxClusterRadius: 60, disableClusteringAtZoom: 16 });
    map.addLayer(cluster);
    var labels = JSON.parse(reportBox.getAttribute("data-labels") || "{}");
    var count = document.getElementById("report-map-count");
    function load(url) {
      fetch(url).then(function (r) { return r.json(); }).then(function (fc) {
        cluster.clearLayers();
        var markers = fc.features.map(function (f) {
          var c = f.geometry.coordinates, p = f.properties;
          var popup = document.createElement("div");
          var link = text("a", p.title);
          link.href = "/laporan/" + encodeURIComponent(p.tracking_id);
          popup.appendChild(link);
          popup.appendChild(text("p", (labels[p.status] || p.status) + " · " + p.tracking_id, "hint"));
          return L.marker([c[1], c[0]], { title: p.title }).bindPopup(popup);
        });
        cluster.addLayers(markers);
        if (count) count.textContent = String(markers.length);
      });
    }
    load(reportBox.getAttribute("data-source"));
    var filters = document.getElementById("map-filters");
    if (filters) {
      filters.addEventListener("change", function () {
        var params = new URLSearchParams({ limit: "2000" });
        ["status", "category", "agency"].forEach(function (name) {
          var value = filters.elements[name].value;
          if (value) params.set(name, value);
        });
        load("/api/v1/map.geojson?" + params.toString());
        var page = new URLSearchParams(params); page.delete("limit");
        history.replaceState(null, "", "/peta" + (page.toString() ? "?" + page.toString() : ""));
      });
    }
  }

  // --- the location picker: a tap or a drag sets latitude/longitude -----------------------
  var pinBox = document.getElementById("pin-map");
  if (pinBox && !pinBox.getAttribute("data-ready")) {
    pinBox.setAttribute("data-ready", "1");
    pinBox.hidden = false;
    var picker = baseMap(pinBox);
    var lat = document.getElementById("lat"), lon = document.getElementById("lon");
    var marker = null;
    // Six decimals: about 11 cm, finer than any phone's position (metres when zoomed in).
    function place(la, lo, pan) {
      if (!marker) {
        marker = L.marker([la, lo], { draggable: true, autoPan: true }).addTo(picker);
        marker.on("dragend", function () {
          var at = marker.getLatLng();
          lat.value = at.lat.toFixed(6); lon.value = at.lng.toFixed(6);
        });
      } else {
        marker.setLatLng([la, lo]);
      }
      // Street level with tiles; offline the outline (about 1 km) says nothing closer than 11.
      var near = pinBox.classList.contains("offline") ? 11 : 16;
      if (pan) picker.setView([la, lo], Math.max(picker.getZoom(), near));
    }
    picker.on("click", function (ev) {
      lat.value = ev.latlng.lat.toFixed(6); lon.value = ev.latlng.lng.toFixed(6);
      place(ev.latlng.lat, ev.latlng.lng, false);
    });
    function fromFields() {
      var la = parseFloat(lat.value), lo = parseFloat(lon.value);
      if (isFinite(la) && isFinite(lo)) place(la, lo, true);
    }
    lat.addEventListener("change", fromFields); lon.addEventListener("change", fromFields);
    fromFields();
    // Choosing a province flies the map there (its capital; the region list has no shapes).
    var centres = JSON.parse(pinBox.getAttribute("data-centres") || "{}");
    var province = document.getElementById("province");
    if (province) {
      province.addEventListener("change", function () {
        var at = centres[province.value];
        if (at && !marker) picker.setView(at, 8);
      });
      if (centres[province.value] && !marker) picker.setView(centres[province.value], 8);
    }
  }
})();
