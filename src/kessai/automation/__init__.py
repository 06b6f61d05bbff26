"""自動化設定: rules that react to events (イベント) on orders meeting conditions (条件) with
actions (アクション), run as jobs after the triggering change commits."""
