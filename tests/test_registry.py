import pytest

from divbench import registry


@pytest.fixture
def plugin_dist(tmp_path, monkeypatch):
    """An installed-looking distribution whose entry points add one good and one broken task."""
    info = tmp_path / "divbench_plugin_demo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: divbench-plugin-demo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[divbench.tasks]\nplugin_good = tests.toy_tasks:ToyTextTask\nplugin_broken = no_such_module:Task\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry._table.cache_clear()
    yield
    registry._table.cache_clear()


def test_builtins_are_listed_without_importing_them():
    assert {"hf", "fake"} <= set(registry.names("backends"))
    assert "none" in registry.names("strategies")


def test_unknown_name_lists_known_names():
    with pytest.raises(registry.UnknownNameError) as info:
        registry.get("backends", "nope")
    assert str(info.value) == "unknown backend 'nope'; known: fake, hf, reference"


def test_entry_point_plugins_load_and_a_broken_one_only_warns(plugin_dist):
    assert {"plugin_good", "plugin_broken"} <= set(registry.names("tasks"))
    assert registry.get("tasks", "plugin_good").name == "toy_text"
    with pytest.warns(registry.PluginWarning, match="plugin_broken"):
        loaded = registry.load_all("tasks")
    assert "plugin_good" in loaded
    assert "plugin_broken" not in loaded
