// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // The region picker: province → regency/city → district → village. Each level's children
  // come from /api/v1/regions?parent= when a level is chosen (never the whole country at once),
  // kept for the page's life and cached by the browser for a day.
  var LEVELS = ["province", "regency", "district", "village"];
  var cache = {};
  function children(parent) {
    if (!cache[parent]) {
      cache[parent] = fetch("/api/v1/regions?parent=" + encodeURIComponent(parent)).then(function (r) {
        return r.ok ? r.json() : [];
      });
    }
    return cache[parent];
  }
  function reset(select) {
    var first = select.options[0];
    select.innerHTML = "";
    select.appendChild(first);
    select.disabled = false;
  }
  var selects = LEVELS.map(function (name) { return document.getElementById(name); });
  if (selects.every(Boolean)) {
    selects.forEach(function (select, level) {
      select.addEventListener("change", function () {
        for (var lower = level + 1; lower < selects.length; lower++) reset(selects[lower]);
        var next = selects[level + 1];
        if (!next || !select.value) return;
        next.setAttribute("aria-busy", "true");
        children(select.value).then(function (list) {
          if (select.value && next.options.length === 1) {
            list.forEach(function (r) { next.appendChild(new Option(r.name, r.code)); });
          }
          next.removeAttribute("aria-busy");
        });
      });
    });
  }

  // The device's position fills latitude/longitude (the map follows when it is open).
  var locate = document.getElementById("use-location");
  if (locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (pos) {
        var lat = document.getElementById("lat"), lon = document.getElementById("lon");
        lat.value = pos.coords.latitude.toFixed(6);
        lon.value = pos.coords.longitude.toFixed(6);
        lat.dispatchEvent(new Event("change"));
      });
    });
  }

  // The location picker's map: Leaflet is fetched only when the reporter asks for the map.
  var open = document.getElementById("open-map");
  var pinBox = document.getElementById("pin-map");
  if (open && pinBox) {
    open.hidden = false;
    open.addEventListener("click", function () {
      open.hidden = true;
      var css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = pinBox.getAttribute("data-leaflet-css");
      document.head.appendChild(css);
      var scripts = ["data-leaflet-js", "data-map-js"];
      (function next() {
        var name = scripts.shift();
        if (!name) return;
        var script = document.createElement("script");
        script.src = pinBox.getAttribute(name);
        script.onload = next;
        document.head.appendChild(script);
      })();
    });
  }
})();
