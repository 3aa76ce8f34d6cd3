import ipywidgets as widgets
import pytest

from gancourse.widgets import GeneratorGamesPanel


@pytest.fixture(scope="module")
def panel():
    return GeneratorGamesPanel(demo_steps=20)


def test_panel_builds_as_a_widget(panel):
    assert isinstance(panel.widget, widgets.VBox)
    assert "minimax" in panel.readout.value


def test_slider_and_game_update_the_readout(panel):
    panel.set(d=0.25, game="maximum_likelihood")
    assert panel.game.value == "maximum_likelihood"
    assert "D = 0.250" in panel.readout.value
    assert "font-weight:bold'><td>maximum_likelihood" in panel.readout.value
    values = panel.gradients_at(0.25)
    assert values["minimax"][1] == pytest.approx(-0.125)
    assert values["maximum_likelihood"][1] == pytest.approx(-0.25 / 1.5)


def test_out_of_range_values_are_clipped_to_the_slider(panel):
    panel.set(d=1.5)
    assert panel.d_slider.value == panel.d_slider.max


def test_unknown_game_is_reported_in_the_panel(panel):
    before = panel.game.value
    panel.set(game="wasserstein")
    assert panel.game.value == before
    assert "unknown game" in panel.status.value and "non_saturating" in panel.status.value


def test_training_demo_runs_and_reports(panel):
    panel.set(game="non_saturating")
    run = panel.run_demo(steps=20)
    assert run.game == "non_saturating" and "non_saturating" in panel.runs
    assert "moved" in panel.status.value
    panel.train_button.click()  # the button does the same, with the slider's step count
    assert len(panel.runs["non_saturating"].steps) > 1
