-- wrk script: POST one valid red-wine row to /predict.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"fixed_acidity": 7.4, "volatile_acidity": 0.7, "citric_acid": 0.0, "residual_sugar": 1.9, "chlorides": 0.076, "free_sulfur_dioxide": 11.0, "total_sulfur_dioxide": 34.0, "density": 0.9978, "ph": 3.51, "sulphates": 0.56, "alcohol_pct_vol": 9.4}'
