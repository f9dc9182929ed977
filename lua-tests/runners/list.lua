-- Every runner the protocol tests use, as { name, start(fn, done, fail), install?, uninstall?,
-- count? }. `count()` reads a counter that grows only when the runner's own protocol carried
-- a suspension (so a test can tell the right path was taken, not a lucky fallback).

local fscache = require("fscache")
local plenary = require("runners.plenary_style")
local nio = require("runners.nio_style")
local coop = require("runners.coop_style")
local async = require("runners.async_style")
local private = require("runners.private_async_style")
local drivers = require("runners.bare_drivers")

return {
  {
    name = "fscache.run",
    start = function(fn, done, fail)
      fscache.run(fn, done, fail)
    end,
  },
  {
    name = "plenary-style a.run",
    start = plenary.start,
    count = function()
      return plenary.leaf_calls
    end,
  },
  {
    name = "plenary-style a.void",
    start = function(fn, done)
      plenary.void(function()
        done(fn())
      end)()
    end,
    count = function()
      return plenary.leaf_calls
    end,
  },
  {
    name = "nio-style task",
    start = nio.start,
    install = nio.install,
    uninstall = nio.uninstall,
  },
  {
    name = "coop-style task",
    start = coop.start,
    install = coop.install,
    uninstall = coop.uninstall,
    count = function()
      -- the start is one resume; each suspension adds the one that carries the result
      return coop.resumes
    end,
    per_call = 2,
  },
  {
    name = "vim.async-style task",
    start = async.start,
    install = async.install,
    uninstall = async.uninstall,
  },
  {
    name = "vim.async-style task (as package.loaded['vim.async'])",
    start = async.start,
    install = function()
      async.install("vim.async")
    end,
    uninstall = async.uninstall,
  },
  {
    name = "vim._async-style",
    start = private.start,
    count = function()
      return private.leaf_calls
    end,
  },
  {
    name = "bare coroutine.wrap",
    start = drivers.bare.start,
  },
  {
    name = "spurious-resume driver",
    start = drivers.spurious.start,
    count = function()
      return drivers.spurious.junk_resumes
    end,
  },
}
