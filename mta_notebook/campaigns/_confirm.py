"""The confirm panel: one card for everything a cell is about to send and one Send button.

The card and the button are drawn from the journal's states, again after the click, so the
panel never says "planned, not sent" about campaigns it has just sent; campaigns already
complete get a disabled button saying so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..display._words import count

if TYPE_CHECKING:
    from ._engine import CampaignClient
    from ._group import CampaignPlans
    from ._plan import CampaignPlan


def _html(plans: CampaignPlan | CampaignPlans, states: list[str]) -> str:
    from ._group import CampaignPlans

    if isinstance(plans, CampaignPlans):
        return plans.card_html(states)
    return plans.card_html(states[0])


def confirm_panel(plans: CampaignPlan | CampaignPlans, client: CampaignClient) -> Any:
    """A VBox of the plans' card (recipients and credits per identity, totals, preview), a
    Send button for all of them and an output area; nothing is sent until the click."""
    import ipywidgets as widgets

    from ._group import ALREADY_SENT, CampaignPlans

    group = plans if isinstance(plans, CampaignPlans) else CampaignPlans((plans,))
    info = widgets.HTML()
    # width max-content: the default 148 px button cut the label to "Send to 92 rec..."
    button = widgets.Button(
        button_style="danger", icon="paper-plane", layout=widgets.Layout(width="max-content")
    )
    out = widgets.Output()

    def refresh() -> None:
        states = group.states()
        info.value = _html(plans, states)
        if all(s == "already sent" for s in states):
            button.description = ALREADY_SENT
            button.disabled = True
            button.button_style = ""
            button.icon = "check"
            button.tooltip = "The journal shows every chunk of these campaigns sent."
        else:
            button.description = f"Send to {count(group.recipients, 'recipient')}"
            button.tooltip = f"{count(group.credits, 'credit')} in all; see the card for each"

    def _on_click(_: Any) -> None:
        button.disabled = True
        with out:
            from IPython.display import display

            display(group.send(client, confirm=True))  # type: ignore[no-untyped-call]

    refresh()
    group.watch(refresh)
    button.on_click(_on_click)
    return widgets.VBox([info, button, out])
