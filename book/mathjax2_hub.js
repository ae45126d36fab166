// The ipywidgets embed script typesets widget labels with MathJax 2's `MathJax.Hub.Queue`; the
// book loads MathJax 3, which has no `Hub`, and the call threw "Cannot read properties of
// undefined (reading 'Queue')". This file, loaded before both, gives every object that becomes
// `window.MathJax` (the configuration first, then MathJax 3 itself) that one call: an element
// queued before MathJax is ready is typeset once it is, later ones at once.
(function () {
  "use strict";
  var waiting = [];
  var current;

  function ready() {
    return current && current.startup && current.startup.promise &&
      typeof current.typesetPromise === "function";
  }

  function typeset(elements) {
    current.startup.promise.then(function () {
      return current.typesetPromise(elements);
    }).catch(function (error) {
      console.warn("MathJax could not typeset a widget label:", error);
    });
  }

  var hub = {
    Queue: function (command) {
      var element = command && command[2];
      if (ready()) {
        typeset(element ? [element] : undefined);
      } else if (element) {
        waiting.push(element);
      }
    }
  };

  var config = window.MathJax || {};
  config.startup = config.startup || {};
  var userReady = config.startup.ready;
  config.startup.ready = function () {
    if (userReady) {
      userReady();
    } else {
      current.startup.defaultReady();
    }
    if (waiting.length) {
      typeset(waiting.splice(0));
    }
  };
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    get: function () { return current; },
    set: function (value) {
      if (value && typeof value === "object" && !value.Hub) {
        value.Hub = hub;
      }
      current = value;
    }
  });
  window.MathJax = config;
})();
