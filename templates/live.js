/* planetd's live river: on an open river page, "N new entries", inserted on click.
 *
 * Loaded from the river's first page only (a <script src> with data attributes: the
 * Content-Security-Policy allows script from planetd itself, never inline). It listens
 * to /events (Server-Sent Events, opened once the page has settled, resumed from the
 * id the page was built at); each event names new entries by id. A click fetches those entries from
 * /fragments/entries, rendered by the same template as the page from the same
 * sanitized store, and puts them at the top of their day. A reset event (the daemon
 * restarted, or this page is too old to catch up) offers a reload instead. Without
 * script, or without EventSource, the page is what it always was.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var river = document.getElementById("river");
  if (!script || !river || !window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var eventsUrl = script.getAttribute("data-events");
  var fragmentUrl = script.getAttribute("data-fragment");
  var pending = [];
  var stale = false;
  var loading = false;
  var notice = null;

  function shown(id) {
    return document.getElementById("e-" + id) !== null;
  }

  function showNotice(text, onClick) {
    if (notice === null) {
      notice = document.createElement("button");
      notice.type = "button";
      notice.className = "live-notice";
      notice.setAttribute("aria-live", "polite");
      river.insertBefore(notice, river.firstChild);
    }
    notice.textContent = text;
    notice.onclick = onClick;
    notice.hidden = false;
  }

  function update() {
    if (stale) {
      showNotice("The river has moved on: reload", function () { window.location.reload(); });
      return;
    }
    pending = pending.filter(function (id) { return !shown(id); });
    if (pending.length === 0) {
      if (notice !== null) { notice.hidden = true; }
      return;
    }
    showNotice(pending.length === 1 ? "1 new entry" : pending.length + " new entries", insert);
  }

  function dayOf(section) {
    var time = section.querySelector(".day-heading time");
    return time ? time.getAttribute("datetime") : null;
  }

  function place(section) {
    var day = dayOf(section);
    var days = river.querySelectorAll("section.day");
    for (var i = 0; i < days.length; i++) {
      if (day !== null && dayOf(days[i]) === day) {
        var heading = days[i].querySelector(".day-heading");
        var articles = section.querySelectorAll("article.entry");
        for (var j = articles.length - 1; j >= 0; j--) {
          if (!document.getElementById(articles[j].id)) {
            articles[j].classList.add("live-new");
            heading.parentNode.insertBefore(document.adoptNode(articles[j]), heading.nextSibling);
          }
        }
        return;
      }
    }
    var fresh = section.querySelectorAll("article.entry");
    for (var k = 0; k < fresh.length; k++) {
      fresh[k].classList.add("live-new");
    }
    var empty = river.querySelector("p.empty");
    if (empty !== null) { empty.parentNode.removeChild(empty); }
    var first = river.querySelector("section.day");
    river.insertBefore(document.adoptNode(section), first || (notice ? notice.nextSibling : river.firstChild));
  }

  function insert() {
    if (loading || pending.length === 0) { return; }
    loading = true;
    var ids = pending.slice(-500);
    var query = ids.map(function (id) { return "id=" + encodeURIComponent(id); }).join("&");
    fetch(fragmentUrl + "?" + query, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var sections = doc.querySelectorAll("section.day");
        for (var i = sections.length - 1; i >= 0; i--) { place(sections[i]); }
        pending = pending.filter(function (id) { return ids.indexOf(id) < 0; });
      })
      .catch(function () { /* the notice stays; a later click tries again */ })
      .then(function () { loading = false; update(); });
  }

  function connect() {
    if (connected) { return; }
    connected = true;
    for (var i = 0; i < ACTIVITY.length; i++) {
      window.removeEventListener(ACTIVITY[i], connect, true);
    }
    var source = new EventSource(eventsUrl);
    source.addEventListener("open", function () { river.setAttribute("data-live", "open"); });
    source.addEventListener("error", function () { river.setAttribute("data-live", "retrying"); });
    source.addEventListener("entries", onEntries);
    source.addEventListener("reset", function () {
      stale = true;
      update();
    });
  }

  function onEntries(event) {
    var data;
    try { data = JSON.parse(event.data); } catch (e) { return; }
    var ids = (data && data.ids) || [];
    for (var i = 0; i < ids.length; i++) {
      if (typeof ids[i] === "string" && pending.indexOf(ids[i]) < 0 && !shown(ids[i])) {
        pending.push(ids[i]);
      }
    }
    update();
  }

  // The stream opens once the page has settled: at the reader's first input, or after
  // CONNECT_DELAY_MS. A page load then never ends in an endless request, which tools
  // that wait for the network to go quiet (prerenderers, headless snapshots) need; the
  // stream resumes from the page's own build, so nothing stored meanwhile is missed.
  var CONNECT_DELAY_MS = 4000;
  var ACTIVITY = ["pointerdown", "pointermove", "keydown", "wheel", "touchstart"];
  var connected = false;
  for (var a = 0; a < ACTIVITY.length; a++) {
    window.addEventListener(ACTIVITY[a], connect, true);
  }
  window.setTimeout(connect, CONNECT_DELAY_MS);
}());
